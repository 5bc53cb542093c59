// The console's one door to the API: bearer token in, JSON or an ApiError out.
export const TOKEN_KEY = "watchfloor.token";

export function token() { return sessionStorage.getItem(TOKEN_KEY); }

/** A refused request: the HTTP status and the server's {error, detail, state?, missing_steps?}. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ? String(body.detail) : `HTTP ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

let onUnauthorized = () => {};

/** Call `handler` when the server refuses the token (401), before the request throws. */
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token()}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, payload);
  return payload;
}
