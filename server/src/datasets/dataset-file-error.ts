/** A dataset file that cannot be imported, with the file and byte offset where the problem is. */
export class DatasetFileError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number | null,
    readonly detail: string,
  ) {
    super(`${file}${offset === null ? '' : ` at byte offset ${offset}`}: ${detail}`);
  }
}
