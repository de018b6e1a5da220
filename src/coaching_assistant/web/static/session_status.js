// A session's status for people: its name and its stage message in the interface language, the
// time left, a progress view, and following a transcription live through the session's event
// stream (GET …/events), or the status long-poll (wait/after) where the stream cannot be had.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { lang, strings } from "./i18n.js";

export const STATUSES = ["uploading", "pending", "processing", "completed", "failed", "cancelled"];
export const IN_FLIGHT = new Set(["pending", "processing"]);

const t = strings({
  en: {
    uploading: "Waiting for audio", pending: "Queued", processing: "Transcribing", completed: "Completed",
    failed: "Failed", cancelled: "Cancelled",
    seconds_left: "about {n} s left", minutes_left: "about {n} min left", almost: "a few seconds left",
    waiting: "Waiting for a worker…", progress: "Transcription progress",
  },
  "zh-TW": {
    uploading: "等待音訊", pending: "排隊中", processing: "轉錄中", completed: "已完成", failed: "失敗",
    cancelled: "已取消",
    seconds_left: "約剩 {n} 秒", minutes_left: "約剩 {n} 分鐘", almost: "只剩幾秒",
    waiting: "等待工作程序…", progress: "轉錄進度",
  },
});

/** "processing" -> "Transcribing" / "轉錄中" */
export const statusName = (status) => (STATUSES.includes(status) ? t(status) : status);

// The worker's stage messages are English (services/transcription.py, session_state.py).
const STAGES_ZH = [
  [/^Waiting for the audio upload$/, () => "等待上傳音訊"],
  [/^Queued for transcription \(retry\)$/, () => "已重新排入轉錄佇列"],
  [/^Queued for transcription$/, () => "已排入轉錄佇列"],
  [/^Re-queued/, () => "已重新排入佇列"],
  [/^Starting transcription$/, () => "開始轉錄"],
  [/^Decoding audio$/, () => "解碼音訊"],
  [/^Transcribing audio: (\d+) of (\d+) seconds$/, (m) => `轉錄音訊：第 ${m[1]} 秒，共 ${m[2]} 秒`],
  [/^Transcribing audio$/, () => "轉錄音訊"],
  [/^Separating speakers$/, () => "區分說話者"],
  [/^Saving transcript$/, () => "儲存逐字稿"],
  [/^Transcription complete$/, () => "轉錄完成"],
  [/^Cancelled by the user$/, () => "已由使用者取消"],
  [/^Retrying after a temporary error/, () => "發生暫時性錯誤，正在重試"],
];

/** The stage message in the interface language (unknown ones as the server wrote them). */
export function stageMessage(message, language) {
  if (!message || language !== "zh-TW") return message ?? "";
  for (const [pattern, say] of STAGES_ZH) {
    const match = message.match(pattern);
    if (match) return say(match);
  }
  return message;
}

/** Seconds of work left, or null: what the server's estimated_completion is computed from, so a
 * clock that differs between browser and server does not skew it. */
export function secondsLeft(status) {
  const { duration_total: total, duration_processed: done, processing_speed: speed } = status;
  if (status.status === "processing" && total && speed && done !== null && done !== undefined) {
    return Math.max(0, (total - done) / speed);
  }
  if (status.estimated_completion) return Math.max(0, (Date.parse(status.estimated_completion) - Date.now()) / 1000);
  return null;
}

/** "about 40 s left" / "about 3 min left" */
export function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 5) return t("almost");
  if (seconds < 90) return t("seconds_left", { n: Math.ceil(seconds) });
  return t("minutes_left", { n: Math.round(seconds / 60) });
}

/**
 * A transcription's progress as people follow it: a bar, "45 %", the stage and the time left
 * (counting down between updates). `update(status)` shows a status; `stop()` ends the countdown.
 */
export function progressView() {
  const bar = h("progress", { max: 100, value: 0, "aria-label": t("progress") });
  const percent = h("span", { class: "percent" }, "0 %");
  const stage = h("span", { class: "stage" }, t("waiting"));
  const left = h("span", { class: "time-left" });
  let deadline = null; // when the server expects to be done, on this browser's clock
  const tick = setInterval(() => {
    if (deadline !== null) replace(left, timeLeft(Math.max(0, (deadline - Date.now()) / 1000)));
  }, 1000);
  return {
    element: h("div", { class: "progress-view" }, bar, h("p", { class: "stage-line" }, percent, stage, left)),
    update(status) {
      const progress = status.progress ?? 0;
      bar.value = progress;
      replace(percent, `${progress} %`);
      replace(stage, stageMessage(status.message, lang) || t("waiting"));
      const seconds = secondsLeft(status);
      deadline = seconds === null ? null : Date.now() + seconds * 1000;
      replace(left, seconds === null ? "" : timeLeft(seconds));
    },
    stop() {
      clearInterval(tick);
      replace(left);
    },
  };
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Follow a session until it is no longer pending or processing: onStatus(status) for each change.
 * Resolves with the last status, or null when `signal` aborts. The event stream is used where the
 * browser has EventSource and the server takes it; when it is refused (429: the user's streams
 * are all in use, e.g. in other tabs) or fails, the status long-poll takes over from where it got.
 */
export async function followStatus(sessionId, { signal, onStatus }) {
  const streamed = await streamStatus(sessionId, { signal, onStatus });
  if (streamed.done) return streamed.last;
  return pollStatus(sessionId, { signal, onStatus, after: streamed.last?.progress ?? 0 });
}

/** The event stream until a final status ({done: true, last}), an abort ({done: true, last: null}),
 * or a stream that cannot go on ({done: false, last}: the last status it gave, if any). */
function streamStatus(sessionId, { signal, onStatus }) {
  if (typeof EventSource === "undefined" || signal?.aborted) return Promise.resolve({ done: !!signal?.aborted, last: null });
  return new Promise((resolve) => {
    // Same origin, so the session cookie goes along (connect-src 'self' allows it).
    const source = new EventSource(`/api/v1/sessions/${sessionId}/events`);
    let last = null;
    const finish = (result) => {
      source.close();
      signal?.removeEventListener("abort", aborted);
      resolve(result);
    };
    const aborted = () => finish({ done: true, last: null });
    signal?.addEventListener("abort", aborted, { once: true });
    source.addEventListener("status", (event) => {
      last = JSON.parse(event.data);
      onStatus(last);
      if (!IN_FLIGHT.has(last.status)) finish({ done: true, last });
    });
    // A dropped connection (readyState CONNECTING) is reopened by the browser with Last-Event-ID;
    // one the server refused (any answer but a stream) is CLOSED.
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) finish({ done: false, last });
    });
  });
}

/** The status long-poll: network errors and "too many long-polls" wait and try again; any other
 * error is thrown. */
async function pollStatus(sessionId, { after = 0, signal, onStatus, wait = 20 }) {
  let progress = after;
  let pause = 1000;
  while (!signal?.aborted) {
    const asked = Date.now();
    let status;
    try {
      status = await api(`/api/v1/sessions/${sessionId}/status?wait=${wait}&after=${progress}`, { signal });
    } catch (error) {
      if (error.name === "AbortError" || signal?.aborted) return null;
      if (error.status !== 0 && error.status !== 429 && error.status < 500) throw error;
      await sleep(pause, signal);
      pause = Math.min(pause * 2, 15000);
      continue;
    }
    pause = 1000;
    if (signal?.aborted) return null;
    onStatus(status);
    if (!IN_FLIGHT.has(status.status)) return status;
    // An answer at once with nothing new (no job to wait on yet): do not spin.
    if (status.progress <= progress && Date.now() - asked < 1000) await sleep(1500, signal);
    progress = Math.max(progress, status.progress);
  }
  return null;
}
