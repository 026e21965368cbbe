// Talking to API v1: the signed-in token, JSON calls, uploads with progress.
//
// The token lives in sessionStorage: it survives reloads of this tab (so a conversation goes
// on after a reload) but not closing the tab, and other tabs and sites never see it. A bearer
// token in localStorage would stay on the machine until it expires, for whoever uses it next.

const TOKEN_KEY = "pdfchat.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** The claims of a JWT, for showing who is signed in (the server checks the signature). */
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return null;
  }
}

function headers(extra = {}) {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}`, ...extra } : extra;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's error page, say.
  }
  const error = body && body.error ? body.error : {};
  return new ApiError(response.status, error.code || `http_${response.status}`,
    error.message || response.statusText);
}

async function send(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await send(path, init);
  return response.status === 204 ? null : response.json();
}

/** An image (or any binary) from the API, as an object URL the caller must revoke. */
export async function blobUrl(path, { signal } = {}) {
  const response = await send(path, { headers: headers(), signal });
  return URL.createObjectURL(await response.blob());
}

/** POST /v1/documents with XMLHttpRequest, because fetch cannot report upload progress. */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
    // One key per chosen file: a retry after a dropped connection never makes a duplicate.
    xhr.setRequestHeader("Idempotency-Key", `${file.name}:${file.size}:${file.lastModified}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const error = body.error || {};
        reject(new ApiError(xhr.status, error.code || `http_${xhr.status}`,
          error.message || xhr.statusText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
