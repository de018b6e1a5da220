// The transcript page, /sessions/{id}: the session's header and actions, its status live until the
// transcript is ready, then the player, the segments, the speakers and the statistics.
import { api, currentUser, messageFor } from "./api.js";
import { h, replace } from "./dom.js";
import { clock, formatDate, languageName, strings } from "./i18n.js";
import { confirmAction, notice, pageFrame } from "./layout.js";
import { IN_FLIGHT, followStatus, progressView, statusName } from "./session_status.js";
import { createPlayer } from "./transcript_player.js";
import { segmentList } from "./transcript_segments.js";
import { speakersPanel } from "./transcript_speakers.js";
import { icfPanel } from "./transcript_icf.js";
import { statsPanel } from "./transcript_stats.js";

// services/transcript_export.TRANSCRIPT_FORMATS; tests/browser/test_transcript_page.py fails when
// the API gains a format without a link here.
export const FORMATS = ["json", "vtt", "srt", "txt", "xlsx", "docx"];

const t = strings({
  en: {
    back: "All sessions", not_found: "Session not found", created: "Created", length: "Length", language: "Language",
    status: "Status", downloads: "Download", retry: "Retry", cancel: "Cancel transcription", delete: "Delete",
    confirm_delete: "Delete “{title}”? Its audio and transcript are removed for good.",
    confirm_cancel: "Stop transcribing “{title}”? You can retry later.", keep: "Keep transcribing",
    no_audio_yet: "No audio has been uploaded to this session yet.",
    failed_message: "The transcription failed: {message}", cancelled_message: "The transcription was cancelled.",
    try_again: "Try again", loading: "Loading the transcript…", format_json: "JSON", format_vtt: "WebVTT",
    format_srt: "SRT", format_txt: "Text", format_xlsx: "Excel", format_docx: "Word",
    download_as: "Download the transcript as {format}",
  },
  "zh-TW": {
    back: "所有會談", not_found: "找不到會談", created: "建立時間", length: "長度", language: "語言",
    status: "狀態", downloads: "下載", retry: "重試", cancel: "取消轉錄", delete: "刪除",
    confirm_delete: "要刪除「{title}」嗎？它的音訊和逐字稿將永久移除。",
    confirm_cancel: "要停止轉錄「{title}」嗎？之後可以重試。", keep: "繼續轉錄",
    no_audio_yet: "這個會談還沒有上傳音訊。",
    failed_message: "轉錄失敗：{message}", cancelled_message: "轉錄已取消。",
    try_again: "再試一次", loading: "正在載入逐字稿…", format_json: "JSON", format_vtt: "WebVTT",
    format_srt: "SRT", format_txt: "純文字", format_xlsx: "Excel", format_docx: "Word",
    download_as: "下載逐字稿（{format}）",
  },
});


export async function show({ id }) {
  const me = await currentUser();
  let session;
  try {
    session = await api(`/api/v1/sessions/${id}`);
  } catch (error) {
    if (error.status === 401) throw error;
    pageFrame(me, t("not_found"), h("h1", {}, t("not_found")), notice("error", error.message), h("a", { href: "/" }, t("back")));
    return;
  }

  const head = h("header", { class: "transcript-head" });
  const statusArea = h("div", { class: "transcript-status", "aria-live": "polite" });
  const playerSlot = h("div", { class: "player-slot" });
  const body = h("div", { class: "transcript-body" });
  const main = pageFrame(me, session.title, head, statusArea, playerSlot, body);
  main.classList.add("transcript-page");

  let player = null;
  // What the coach has open or typed and not saved: it outlives every redraw of the transcript.
  const edits = { drafts: new Map(), history: new Set(), names: new Map() };
  const unsaved = () => edits.names.size > 0 || [...edits.drafts.values()].some((draft) => draft.text !== draft.original);
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = "";
  });
  const ctx = {
    sessionId: id,
    edits,
    seek: (seconds) => player?.seek(seconds),
    // Redraw from `transcript`, then focus `focus`, unless the coach is typing in a field: that
    // field keeps the focus and the caret.
    update: (transcript, { focus } = {}) => {
      const active = document.activeElement;
      const holder = body.contains(active) && active.matches("textarea, input[type=text]") ? active.closest("[id]") : null;
      const typing = holder && { selector: `#${holder.id} ${active.tagName.toLowerCase()}`,
        start: active.selectionStart, end: active.selectionEnd };
      renderTranscript(transcript);
      const field = typing && body.querySelector(typing.selector);
      if (field) {
        field.focus();
        field.setSelectionRange(typing.start, typing.end);
      } else if (focus) body.querySelector(focus)?.focus();
    },
    reload: async ({ focus } = {}) => ctx.update(await api(`/api/v1/sessions/${id}/transcript`), { focus }),
  };

  const renderTranscript = (transcript) => {
    replace(body, segmentList(transcript, ctx),
      h("aside", { class: "transcript-side" }, speakersPanel(transcript, ctx), statsPanel(transcript.statistics, ctx),
        icfPanel(ctx)));
    player?.refresh();
  };

  const showPlayer = () => {
    if (player || session.status === "uploading") return;
    player = createPlayer(id, () => body.querySelectorAll(".segment"));
    replace(playerSlot, player.element);
  };

  const loadTranscript = async () => {
    replace(body, h("p", { class: "muted" }, t("loading")));
    try {
      renderTranscript(await api(`/api/v1/sessions/${id}/transcript`));
    } catch (error) {
      replace(body, notice("error", error.message), h("button", { type: "button", onclick: loadTranscript }, t("try_again")));
    }
  };

  // A click handler running `work` once at a time, its button disabled meanwhile; a failure says why.
  let busy = false;
  const act = (work) => async (event) => {
    if (busy) return;
    busy = true;
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      replace(statusArea, notice("error", error.message));
    } finally {
      busy = false;
      button.disabled = false;
    }
  };
  const retry = act(async () => {
    const queued = await api(`/api/v1/sessions/${id}/retry-transcription`, { method: "POST" });
    session = { ...session, status: queued.status, error_code: null, error_message: null };
    renderHead();
    renderStatus({ status: queued.status, progress: 0 });
    follow();
  });
  const cancel = act(async () => {
    if (!(await confirmAction(t("confirm_cancel", { title: session.title }), t("cancel"), t("keep")))) return;
    session = await api(`/api/v1/sessions/${id}/cancel`, { method: "POST" });
    renderHead();
    renderStatus({ status: session.status });
  });
  const remove = act(async () => {
    if (!(await confirmAction(t("confirm_delete", { title: session.title }), t("delete")))) return;
    await api(`/api/v1/sessions/${id}`, { method: "DELETE" });
    edits.drafts.clear(); // gone with the session: nothing to warn about on leaving
    edits.names.clear();
    location.assign("/");
  });

  const renderHead = () => {
    const facts = [
      [t("created"), formatDate(session.created_at)],
      [t("length"), session.duration_seconds ? clock(session.duration_seconds) : "—"],
      [t("language"), languageName(session.language)],
      [t("status"), h("span", { class: `status ${session.status}` }, statusName(session.status))],
    ];
    const buttons = [];
    if (["failed", "cancelled"].includes(session.status)) buttons.push(h("button", { type: "button", class: "primary", onclick: retry }, t("retry")));
    if (IN_FLIGHT.has(session.status)) buttons.push(h("button", { type: "button", onclick: cancel }, t("cancel")));
    buttons.push(h("button", { type: "button", class: "danger", onclick: remove }, t("delete")));
    const downloads = session.status !== "completed" ? null : h("nav", { class: "downloads", "aria-label": t("downloads") },
      h("span", { class: "downloads-label" }, t("downloads")),
      FORMATS.map((format) => h("a", { class: "button small", href: `/api/v1/sessions/${id}/transcript?format=${format}`, download: true,
        "data-format": format, title: t("download_as", { format: t(`format_${format}`) }) }, t(`format_${format}`))));
    replace(head,
      h("a", { class: "back", href: "/" }, `← ${t("back")}`),
      h("h1", {}, session.title),
      h("dl", { class: "facts" }, facts.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value)))),
      h("div", { class: "head-actions" }, downloads, h("div", { class: "actions start" }, buttons)));
  };

  let live = null; // the progress view, while the session is pending or processing
  const renderStatus = (status) => {
    if (!IN_FLIGHT.has(status.status)) {
      live?.stop();
      live = null;
    }
    if (status.status === "completed") return replace(statusArea);
    if (status.status === "failed") {
      const message = messageFor(status.error_code ?? session.error_code, status.message ?? session.error_message ?? "");
      return replace(statusArea, notice("error", t("failed_message", { message }), " ",
        h("button", { type: "button", class: "small", onclick: retry }, t("retry"))));
    }
    if (status.status === "cancelled") {
      return replace(statusArea, notice("info", t("cancelled_message"), " ", h("button", { type: "button", class: "small", onclick: retry }, t("retry"))));
    }
    if (status.status === "uploading") return replace(statusArea, notice("info", t("no_audio_yet")));
    // Pending or processing: one view, updated in place (its countdown runs between updates).
    if (!live || !statusArea.contains(live.element)) {
      live?.stop();
      live = progressView();
      replace(statusArea, h("div", { class: "card live" }, live.element));
    }
    return live.update(status);
  };

  // Follow the status live until the session leaves pending/processing; a completed one shows its transcript.
  const follow = async () => {
    let last;
    try {
      last = await followStatus(id, { onStatus: (status) => {
        if (status.status !== session.status) {
          session = { ...session, status: status.status };
          renderHead();
        }
        renderStatus(status);
        showPlayer();
      } });
    } catch (error) {
      replace(statusArea, notice("error", error.message, " ", h("button", { type: "button", class: "small", onclick: follow }, t("try_again"))));
      return;
    }
    if (!last) return;
    session = { ...session, status: last.status, error_code: last.error_code };
    try {
      session = await api(`/api/v1/sessions/${id}`); // its length and error message, now known
    } catch { /* the status above is enough to go on */ }
    renderHead();
    if (last.status === "completed") await loadTranscript();
  };

  renderHead();
  renderStatus({ status: session.status, message: session.error_message, error_code: session.error_code });
  showPlayer();
  if (session.status === "completed") await loadTranscript();
  else if (IN_FLIGHT.has(session.status)) follow();
}
