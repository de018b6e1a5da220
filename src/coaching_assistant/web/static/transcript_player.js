// The audio player and what follows it: seeking from a segment, the segment being played
// highlighted and kept in view, and the keyboard (space play/pause, arrows ±5 s).
import { messageFor, toSignIn } from "./api.js";
import { h } from "./dom.js";
import { strings } from "./i18n.js";
import { notice } from "./layout.js";

const t = strings({
  en: { player: "Audio", keys: "Space: play or pause · ← →: 5 seconds back or on",
        no_audio: "There is no audio to play for this session: its transcript was imported, or the audio was deleted after the retention period.",
        in_bucket: "This session's audio is kept in a cloud storage bucket, which this server does not play from.",
        unplayable: "This browser could not play the audio (it stopped loading, or cannot decode this format).",
        unreachable: "The audio could not be loaded: the server cannot be reached.",
        failed: "The audio could not be loaded: {message}", try_again: "Try again" },
  "zh-TW": { player: "音訊", keys: "空白鍵：播放或暫停 · ← →：倒退或前進 5 秒",
             no_audio: "這個會談沒有可播放的音訊：逐字稿是匯入的，或音訊已在保存期限後刪除。",
             in_bucket: "這個會談的音訊存放在雲端儲存空間，本伺服器無法從那裡播放。",
             unplayable: "瀏覽器無法播放這段音訊（載入中斷，或無法解碼這種格式）。",
             unreachable: "無法載入音訊：無法連線到伺服器。",
             failed: "無法載入音訊：{message}", try_again: "再試一次" },
});

/** Why the audio at `src` did not play, asked of the API with a one-byte request: a message key
 *  and the API's message; "signed_out" when the session has ended. */
async function whyNoAudio(src) {
  let response;
  try {
    response = await fetch(src, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" });
  } catch {
    return { key: "unreachable" };
  }
  if (response.ok) return { key: "unplayable" };
  if (response.status === 401) return { key: "signed_out" };
  let body = {};
  try { body = await response.json(); } catch { /* not JSON: a proxy's page */ }
  if (body.code === "audio_not_found") return { key: "no_audio" };
  if (body.code === "audio_in_bucket") return { key: "in_bucket" };
  return { key: "failed", message: messageFor(body.code ?? `http_${response.status}`, body.message ?? response.statusText) };
}

const STEP = 5;
const FIELDS = new Set(["INPUT", "TEXTAREA", "SELECT"]);
const ACTIVATED_BY_SPACE = new Set(["BUTTON", "A", "SUMMARY", "AUDIO", "VIDEO"]);

/** The player bar (one <audio>, or a note when the session has no audio). `segmentsOf()` gives
 *  the segment elements in time order, each with data-start. */
export function createPlayer(sessionId, segmentsOf) {
  const src = `/api/v1/sessions/${sessionId}/audio`;
  const audio = h("audio", { controls: true, preload: "metadata", src });
  const keys = h("p", { class: "hint keys" }, t("keys"));
  const bar = h("section", { class: "player", "aria-label": t("player") }, audio, keys);
  let current = null;

  // The audio failed to load: say why, and offer to try again when trying again can help.
  const explain = async () => {
    const { key, message } = await whyNoAudio(src);
    if (key === "signed_out") return toSignIn();
    if (key === "no_audio" || key === "in_bucket") return bar.replaceChildren(notice("info", t(key)));
    const again = h("button", { type: "button", class: "small", onclick: () => {
      bar.replaceChildren(audio, keys);
      audio.addEventListener("error", explain, { once: true });
      audio.load();
    } }, t("try_again"));
    bar.replaceChildren(notice("error", t(key, { message }), " ", again));
  };
  audio.addEventListener("error", explain, { once: true });

  const highlight = () => {
    const time = audio.currentTime;
    let playing = null;
    for (const segment of segmentsOf()) {
      if (Number(segment.dataset.start) <= time + 0.05) playing = segment; else break;
    }
    if (playing === current) return;
    current?.classList.remove("current");
    current?.removeAttribute("aria-current");
    current = playing;
    if (!current) return;
    current.classList.add("current");
    current.setAttribute("aria-current", "true");
    if (!audio.paused) current.scrollIntoView({ block: "nearest" });
  };
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);

  const seek = (seconds) => {
    if (!audio.isConnected) return;
    audio.currentTime = seconds;
    audio.play().catch(() => { /* the browser refused autoplay; the position is set */ });
  };

  document.addEventListener("keydown", (event) => {
    if (!audio.isConnected || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    const target = event.target;
    if (FIELDS.has(target.tagName) || target.isContentEditable || target.closest?.("dialog")) return;
    if (event.key === " " && !ACTIVATED_BY_SPACE.has(target.tagName)) {
      event.preventDefault();
      if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    } else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && target.tagName !== "AUDIO") {
      event.preventDefault();
      const to = audio.currentTime + (event.key === "ArrowRight" ? STEP : -STEP);
      audio.currentTime = Math.max(0, Number.isFinite(audio.duration) ? Math.min(audio.duration, to) : to);
    }
  });

  return { element: bar, seek, refresh: () => { current = null; highlight(); } };
}
