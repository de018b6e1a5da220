// The audio player and what follows it: seeking from a segment, the segment being played
// highlighted and kept in view, and the keyboard (space play/pause, arrows ±5 s).
import { h } from "./dom.js";
import { strings } from "./i18n.js";
import { notice } from "./layout.js";

const t = strings({
  en: { player: "Audio", keys: "Space: play or pause · ← →: 5 seconds back or on",
        no_audio: "There is no audio to play for this session: its transcript was imported, or the audio was deleted after the retention period." },
  "zh-TW": { player: "音訊", keys: "空白鍵：播放或暫停 · ← →：倒退或前進 5 秒",
             no_audio: "這個會談沒有可播放的音訊：逐字稿是匯入的，或音訊已在保存期限後刪除。" },
});

const STEP = 5;
const FIELDS = new Set(["INPUT", "TEXTAREA", "SELECT"]);
const ACTIVATED_BY_SPACE = new Set(["BUTTON", "A", "SUMMARY", "AUDIO", "VIDEO"]);

/** The player bar (one <audio>, or a note when the session has no audio). `segmentsOf()` gives
 *  the segment elements in time order, each with data-start. */
export function createPlayer(sessionId, segmentsOf) {
  const audio = h("audio", { controls: true, preload: "metadata", src: `/api/v1/sessions/${sessionId}/audio` });
  const bar = h("section", { class: "player", "aria-label": t("player") }, audio, h("p", { class: "hint keys" }, t("keys")));
  let current = null;

  audio.addEventListener("error", () => bar.replaceChildren(notice("info", t("no_audio"))), { once: true });

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
