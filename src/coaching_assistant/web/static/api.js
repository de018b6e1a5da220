// Calls to /api/v1 with the session cookie. Writes carry the CSRF token that sign-in and
// GET /api/v1/me give (api/csrf.py). Every failure becomes an ApiError with the API's
// machine-readable code and a message in the interface language.
import { lang, strings } from "./i18n.js";

const t = strings({
  en: { network_error: "The server cannot be reached. Check your connection and try again." },
  "zh-TW": {
    network_error: "無法連線到伺服器，請檢查網路後再試一次。",
    unsupported_format: "不支援這種檔案格式。請上傳 wav、mp3、m4a、ogg、flac 或 webm。",
    file_too_large: "檔案太大，超過上傳上限。",
    empty_file: "檔案是空的。",
    undecodable_audio: "無法讀取這個檔案的音訊，檔案可能已損毀。",
    audio_too_long: "錄音太長，超過允許的長度。",
    sample_rate_too_low: "錄音的取樣率太低，無法轉錄。",
    too_many_channels: "錄音的聲道太多。",
    invalid_credentials: "電子郵件或密碼錯誤。",
    sign_in_rate_limited: "登入失敗次數太多，請稍後再試。",
    storage_quota_exceeded: "已超過您的儲存空間上限，請先刪除一些會談。",
    session_rate_limited: "新增會談太頻繁，請稍後再試。",
    too_many_uploads: "同時上傳的檔案太多，請稍候。",
    broker_unavailable: "工作佇列暫時無法使用，未排入任何工作，請稍後再試。",
    database_unavailable: "資料庫暫時無法使用，請稍後再試。",
    session_not_found: "找不到這個會談，可能已被刪除。",
    transcript_not_ready: "逐字稿尚未完成。",
    retry_limit_reached: "這個會談已達重試次數上限。",
    edit_conflict: "同時有太多編輯，請再試一次。",
    precondition_failed: "這段文字已在別處被修改，請重新載入後再編輯。",
    edit_history_full: "這段文字的編輯紀錄已滿。",
    invalid_content: "文字內容無效。",
    invalid_label: "名稱無效：不可包含控制字元、< 或 >，最多 40 個字。",
    csrf_failed: "安全檢查失敗，請重新載入頁面。",
    validation_error: "輸入的內容無效：{message}",
    // why a transcription failed (a session's error_code)
    transcription_failed: "轉錄失敗。",
    transient_error: "發生暫時性錯誤，請稍後重試。",
    retries_exhausted: "多次嘗試後仍無法完成轉錄，請稍後重試。",
    time_limit_exceeded: "轉錄超過時間上限。",
    audio_missing: "找不到這個會談的音訊檔。",
    audio_location_rejected: "音訊的存放位置不被允許。",
    unsupported_language: "目前的語音模型不支援這個語言。",
    stt_unavailable: "語音辨識引擎暫時無法使用，請稍後重試。",
    stt_rejected: "語音辨識引擎拒絕了這個音訊。",
    diarization_unavailable: "無法區分說話者。",
    internal_error: "發生未預期的錯誤，已記錄下來。",
    too_many_requests: "同時送出的請求太多，請稍候再試。",
    too_many_long_polls: "同時追蹤的進度太多，請稍候。",
    too_many_event_streams: "同時追蹤的進度太多，請稍候。",
  },
});

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrfToken = null;
export const setCsrfToken = (token) => { csrfToken = token; };

/** The API's message for `code` in the interface language (the English one when there is none). */
export function messageFor(code, message) {
  if (lang === "en") return message;
  try { return t(code, { message }); } catch { return message; }
}

async function errorFrom(response) {
  let body = {};
  try { body = await response.json(); } catch { /* not JSON: a proxy's page */ }
  const code = body.code ?? `http_${response.status}`;
  return new ApiError(response.status, code, messageFor(code, body.message ?? response.statusText));
}

export function toSignIn() {
  const next = location.pathname + location.search;
  location.assign(next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`);
}

/** fetch /api/v1/…; JSON in and out; 401 sends the browser to the sign-in page. */
export async function api(path, { method = "GET", json, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, { method, headers, signal, credentials: "same-origin",
      body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", t("network_error"));
  }
  if (response.status === 401 && !path.endsWith("/auth/sign-in")) {
    toSignIn();
    throw await errorFrom(response);
  }
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** The signed-in user (and the CSRF token for writes); on no session, off to sign in. */
export async function currentUser() {
  const me = await api("/api/v1/me");
  setCsrfToken(me.csrf_token);
  return me;
}

/** POST a file as multipart/form-data `file`, reporting (sent, total) bytes as they go; `signal`
 * aborts it (rejects with an AbortError). */
export function upload(path, file, onProgress, { signal } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    if (signal?.aborted) { reject(new DOMException("Upload aborted", "AbortError")); return; }
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    request.addEventListener("abort", () => reject(new DOMException("Upload aborted", "AbortError")));
    request.open("POST", path);
    request.responseType = "text";
    if (csrfToken) request.setRequestHeader("X-CSRF-Token", csrfToken);
    request.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size));
    request.addEventListener("load", async () => {
      const response = new Response(request.response, { status: request.status, statusText: request.statusText });
      if (request.status >= 200 && request.status < 300) resolve(JSON.parse(request.response));
      else reject(await errorFrom(response));
    });
    request.addEventListener("error", () => reject(new ApiError(0, "network_error", t("network_error"))));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}
