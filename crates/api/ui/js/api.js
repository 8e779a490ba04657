// The API client: JSON or raw bodies, the bearer token kept in the tab's sessionStorage, and
// the token prompt when the API answers 401.

export const API = '/api/v1';
/** The apiVersion of new devices and assets. */
export const API_VERSION = 'namespaces.deviceregistry.microsoft.com/v1';
const TOKEN_KEY = 'sse-connector-token';

class ApiFailure extends Error {
  constructor(status, body) {
    const message = body && body.error ? body.error.message : (typeof body === 'string' && body ? body : `HTTP ${status}`);
    super(message);
    this.status = status;
    this.problems = (body && body.error && body.error.problems) || [];
  }
}

let tokenPrompt = null;

/** Shows the token dialog once, whatever the number of requests waiting for it. */
export function askToken() {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve, reject) => {
    const dialog = document.getElementById('token-dialog');
    const form = document.getElementById('token-form');
    const input = document.getElementById('token-input');
    input.value = '';
    let submitted = false;
    const onSubmit = () => {
      submitted = true;
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    };
    form.addEventListener('submit', onSubmit, { once: true });
    // Closed by the submit button, or dismissed with Escape.
    dialog.addEventListener('close', () => {
      form.removeEventListener('submit', onSubmit);
      tokenPrompt = null;
      if (submitted) resolve();
      else reject(new ApiFailure(401, 'This page needs the API token: reload it to enter the token.'));
    }, { once: true });
    dialog.showModal();
  });
  return tokenPrompt;
}

export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Calls the API. `body`: a JS value sent as JSON, or `{raw, type}` sent as is. Answers the
 *  parsed JSON (or text); throws ApiFailure on an error status. */
export async function api(method, path, body) {
  const headers = authHeaders();
  let payload;
  if (body !== undefined) {
    if (body && body.raw !== undefined) {
      payload = body.raw;
      headers['Content-Type'] = body.type || 'text/plain';
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 401) {
    await askToken();
    return api(method, path, body);
  }
  const type = response.headers.get('content-type') || '';
  let data = null;
  if (response.status !== 204) data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

/** The answer, or `fallback` when the route is absent (404) on this listener. */
export async function optional(path, fallback) {
  try {
    return await api('GET', path);
  } catch (error) {
    if (error.status === 404) return fallback;
    throw error;
  }
}

export const seg = (name) => name.split('/').map(encodeURIComponent).join('/');
