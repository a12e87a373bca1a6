import type { WorkAssignment } from '@coopt/shared';

/**
 * The worker's journal in IndexedDB: the lease it is working on and every batch it has finished,
 * so a reload resumes the same lease without recomputing finished batches.
 */
const DB = 'coopt-journal';
const BATCHES = 'batches';
const LEASES = 'leases';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(BATCHES);
      req.result.createObjectStore(LEASES);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function run<T>(store: string, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return open().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(store, mode);
        const req = fn(tx.objectStore(store));
        tx.oncomplete = () => {
          db.close();
          resolve(req.result);
        };
        tx.onerror = () => {
          db.close();
          reject(tx.error);
        };
      }),
  );
}

export interface JournalEntry {
  token: string;
  assignment: WorkAssignment;
}

export const batchJournal = {
  /** The lease this device was working on when the tab went away, if any. */
  current: () => run<JournalEntry | undefined>(LEASES, 'readonly', (s) => s.get('current')),
  begin: (entry: JournalEntry) => run(LEASES, 'readwrite', (s) => s.put(entry, 'current')),
  save: (leaseId: number, batch: number, rows: Float32Array) =>
    run(BATCHES, 'readwrite', (s) => s.put(rows, [leaseId, batch])),
  /** Finished batches of a lease, by batch index. */
  async finished(leaseId: number): Promise<Map<number, Float32Array>> {
    const range = IDBKeyRange.bound([leaseId, 0], [leaseId, Number.MAX_SAFE_INTEGER]);
    const keys = await run<IDBValidKey[]>(BATCHES, 'readonly', (s) => s.getAllKeys(range));
    const values = await run<Float32Array[]>(BATCHES, 'readonly', (s) => s.getAll(range));
    return new Map(keys.map((k, i) => [(k as number[])[1] as number, values[i] as Float32Array]));
  },
  async end(leaseId: number): Promise<void> {
    await run(BATCHES, 'readwrite', (s) =>
      s.delete(IDBKeyRange.bound([leaseId, 0], [leaseId, Number.MAX_SAFE_INTEGER])),
    );
    await run(LEASES, 'readwrite', (s) => s.delete('current'));
  },
};
