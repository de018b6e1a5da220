// A session's status for people: its name and its stage message in the interface language, the
// time left, and following a transcription live through the status long-poll (wait/after).
import { api } from "./api.js";
import { strings } from "./i18n.js";

export const STATUSES = ["uploading", "pending", "processing", "completed", "failed", "cancelled"];
export const IN_FLIGHT = new Set(["pending", "processing"]);

const t = strings({
  en: {
    uploading: "Waiting for audio", pending: "Queued", processing: "Transcribing", completed: "Completed",
    failed: "Failed", cancelled: "Cancelled",
    seconds_left: "about {n} s left", minutes_left: "about {n} min left", almost: "a few seconds left",
  },
  "zh-TW": {
    uploading: "等待音訊", pending: "排隊中", processing: "轉錄中", completed: "已完成", failed: "失敗",
    cancelled: "已取消",
    seconds_left: "約剩 {n} 秒", minutes_left: "約剩 {n} 分鐘", almost: "只剩幾秒",
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

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Follow a session until it is no longer pending or processing: onStatus(status) for each answer
 * of the long-poll. Resolves with the last status, or null when `signal` aborts. Network
 * errors and "too many long-polls" wait and try again; any other error is thrown.
 */
export async function followStatus(sessionId, { after = 0, signal, onStatus, wait = 20 }) {
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
