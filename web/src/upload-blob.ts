/**
 * Uploads a file to the admin blob store with upload progress (XMLHttpRequest, since fetch reports
 * none) and returns its key, the SHA-256 of the content.
 */
export function uploadBlob(
  token: string,
  file: Blob,
  onProgress: (sent: number, total: number) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/admin/blobs');
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total || file.size);
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || '{}') as { key?: string; error?: { message: string } };
      if (xhr.status === 201 && body.key) resolve(body.key);
      else reject(new Error(body.error?.message ?? `upload failed with status ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error('the upload was interrupted'));
    xhr.send(file);
  });
}
