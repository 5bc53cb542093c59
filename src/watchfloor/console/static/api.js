// The console's one door to the API: the session cookie (with its CSRF token) or, for links
// that carry one, a bearer token in; JSON or an ApiError out.
export const TOKEN_KEY = "watchfloor.token";
export const CSRF_KEY = "watchfloor.csrf";
/** Set while a console in this browser is locked (presence.js); a sign-in clears it. */
export const LOCK_KEY = "watchfloor.locked";

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

/** Call `handler` when the server refuses the token or session (401), before the request throws. */
export function whenUnauthorized(handler) { onUnauthorized = handler; }

/** The request options that authenticate: a bearer token, or the cookie and the CSRF header. */
export function authenticated(init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  else if (sessionStorage.getItem(CSRF_KEY)) headers["X-CSRF-Token"] = sessionStorage.getItem(CSRF_KEY);
  return { ...init, headers, credentials: "same-origin" };
}

export async function api(path, { method = "GET", body } = {}) {
  const init = authenticated({ method });
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

/**
 * Sign in with a name, password and (when asked) a TOTP code. On success the server has set
 * the session cookie; the CSRF token is kept for the tab. Returns {ok, status, payload,
 * retryAfter} for the caller to say what went wrong.
 */
export async function postLogin(body) {
  const response = await fetch("/api/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({}));
  if (response.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.setItem(CSRF_KEY, payload.csrf_token);
    localStorage.removeItem(LOCK_KEY);
  }
  return {
    ok: response.ok, status: response.status, payload,
    retryAfter: response.headers.get("Retry-After"),
  };
}

/** What a refused sign-in means, in the words the sign-in page and the lock screen show. */
export function loginRefusal({ status, payload, retryAfter }) {
  if (status === 429) return `Too many failed attempts: try again in ${retryAfter} seconds.`;
  return payload.detail ? String(payload.detail) : `HTTP ${status}`;
}

/** Who is signed in ({user, role, via, expires_at, …}); keeps the session's CSRF token. */
export async function whoAmI() {
  const me = await api("/api/me");
  if (me.csrf_token) sessionStorage.setItem(CSRF_KEY, me.csrf_token);
  return me;
}

/** Go to the sign-in page, saying why; it brings us back to this page. */
export function toLogin(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(CSRF_KEY);
  const query = new URLSearchParams();
  if (reason) query.set("reason", reason);
  if (location.pathname !== "/") query.set("next", location.pathname);
  location.replace(`/login.html${query.size ? `?${query}` : ""}`);
}
