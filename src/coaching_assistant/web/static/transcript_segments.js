// The segments: time and speaker label coloured by role; click (or Enter) plays from there; inline
// edit of the text with its history; a role for one segment.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { clock, formatDate, strings } from "./i18n.js";
import { notice } from "./layout.js";
import { ROLES, roleName } from "./transcript_roles.js";

const t = strings({
  en: {
    segments: "Transcript", play_from: "Play from {time}, {speaker}", edit: "Edit", save: "Save", cancel: "Cancel",
    saving: "Saving…", text_of: "Text at {time}", history: "History ({count})", replaced: "Replaced {date}",
    role_of: "Role of this segment", speakers_role: "Speaker's role", edit_hint: "Escape cancels.",
    stale: "Someone changed this text since you opened it. Their text now:",
    stale_save: "Your text stays in the editor; Save puts it in place of theirs.",
  },
  "zh-TW": {
    segments: "逐字稿", play_from: "從 {time} 播放，{speaker}", edit: "編輯", save: "儲存", cancel: "取消",
    saving: "儲存中…", text_of: "{time} 的文字", history: "編輯紀錄（{count}）", replaced: "於 {date} 被取代",
    role_of: "這一段的角色", speakers_role: "依說話者", edit_hint: "按 Esc 取消。",
    stale: "您開啟後，這段文字已被別人修改。對方現在的文字：",
    stale_save: "您的文字仍在編輯框中；按「儲存」會以您的文字取代對方的。",
  },
});

const INTERACTIVE = "button, select, textarea, input, a, details, label";

/** The segment list of `transcript`. ctx: {sessionId, seek(seconds), update(transcript, {focus}),
 *  reload({focus}), edits} — update re-renders the page from the transcript an edit answered with;
 *  edits.drafts ({segment id: {text, version, original, theirs}}) and edits.history (ids whose
 *  history is open) outlive that re-render, so an open editor comes back with its text. */
export function segmentList(transcript, ctx) {
  return h("section", { class: "segments-panel", "aria-labelledby": "segments-title" },
    h("h2", { id: "segments-title" }, t("segments")),
    h("ol", { class: "segments" }, transcript.segments.map((segment) => segmentItem(segment, ctx))));
}

function segmentItem(segment, ctx) {
  const { drafts } = ctx.edits;
  const time = clock(segment.start_seconds);
  const seek = h("button", { type: "button", class: "seek", "aria-label": t("play_from", { time, speaker: segment.label }),
    onclick: () => ctx.seek(segment.start_seconds) },
  h("span", { class: "time" }, time), h("span", { class: "speaker" }, segment.label));
  const text = h("p", { class: "text" }, segment.content);
  const message = h("div", { class: "segment-message" });
  const edit = h("button", { type: "button", class: "small", onclick: () => startEdit() }, t("edit"));
  const item = h("li", {
    class: `segment role-${segment.role}`, id: `segment-${segment.id}`,
    dataset: { start: segment.start_seconds.toFixed(2), role: segment.role, id: segment.id },
  }, h("div", { class: "segment-head" }, seek, roleSelect(segment, ctx, message)), text, message,
  h("div", { class: "segment-tools" }, edit, history(segment, ctx.edits.history)));
  item.addEventListener("click", (event) => {
    if (event.target.closest(INTERACTIVE) || item.classList.contains("editing")) return;
    if (getSelection()?.isCollapsed === false) return; // selecting text to copy it
    ctx.seek(segment.start_seconds);
  });

  // `restoring`: the editor was open before the page was redrawn; it comes back as it was, unfocused.
  const startEdit = ({ restoring = false } = {}) => {
    let draft = drafts.get(segment.id);
    if (!draft) drafts.set(segment.id, draft = { text: segment.content, version: segment.version, original: segment.content });
    if (draft.version !== segment.version) { // changed elsewhere since the editor opened: save over what the coach now sees
      draft.version = segment.version;
      draft.theirs = segment.content;
    }
    const area = h("textarea", { "aria-label": t("text_of", { time }), rows: 3, maxlength: 10000 });
    area.value = draft.text;
    area.addEventListener("input", () => { draft.text = area.value; });
    const save = h("button", { type: "submit", class: "primary small" }, t("save"));
    const form = h("form", { class: "segment-edit" }, area, h("div", { class: "actions start" }, save,
      h("button", { type: "button", class: "small", onclick: () => stopEdit() }, t("cancel")),
      h("span", { class: "hint" }, t("edit_hint"))));
    const stopEdit = () => {
      drafts.delete(segment.id);
      item.classList.remove("editing"); form.replaceWith(text); replace(message); edit.hidden = false; edit.focus();
    };
    area.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); stopEdit(); } });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      save.textContent = t("saving");
      replace(message);
      let failure;
      try {
        const updated = await api(`/api/v1/sessions/${ctx.sessionId}/segment-content`, { method: "PATCH",
          json: { segment_content: { [segment.id]: area.value }, versions: { [segment.id]: draft.version } } });
        drafts.delete(segment.id);
        ctx.update(updated, { focus: `#segment-${segment.id} .segment-tools button` });
        return;
      } catch (error) {
        failure = error;
      }
      if (failure.code === "precondition_failed") {
        // Redraw from the transcript as it is now; this editor comes back with the coach's text and theirs.
        try { await ctx.reload({ focus: `#segment-${segment.id} textarea` }); return; } catch (error) { failure = error; }
      }
      save.disabled = false;
      save.textContent = t("save");
      replace(message, notice("error", failure.message));
    });
    item.classList.add("editing");
    edit.hidden = true;
    text.replaceWith(form);
    if (draft.theirs !== undefined) {
      replace(message, notice("error", t("stale"), " ", h("q", { class: "their-text" }, draft.theirs), " ", t("stale_save")));
    }
    if (!restoring) area.focus();
  };
  if (drafts.has(segment.id)) startEdit({ restoring: true });
  return item;
}

function roleSelect(segment, ctx, message) {
  const select = h("select", { class: "small role-select", "aria-label": t("role_of"), onchange: async () => {
    select.disabled = true;
    replace(message);
    try {
      const updated = await api(`/api/v1/sessions/${ctx.sessionId}/segment-roles`, { method: "PATCH",
        json: { segment_roles: { [segment.id]: select.value || null } } });
      ctx.update(updated, { focus: `#segment-${segment.id} .role-select` });
    } catch (error) {
      select.disabled = false;
      select.value = segment.role_override ?? "";
      replace(message, notice("error", error.message));
    }
  } },
  h("option", { value: "", selected: !segment.role_override }, t("speakers_role")),
  ROLES.map((role) => h("option", { value: role, selected: segment.role_override === role }, roleName(role))));
  return select;
}

function history(segment, open) {
  const earlier = segment.history ?? [];
  if (!earlier.length) return null;
  const details = h("details", { class: "history", open: open.has(segment.id) }, h("summary", {}, t("history", { count: earlier.length })),
    h("ol", {}, [...earlier].reverse().map((entry) => h("li", {},
      h("span", { class: "hint" }, t("replaced", { date: formatDate(entry.replaced_at) })), " ",
      h("span", { class: "old-text" }, entry.content)))));
  details.addEventListener("toggle", () => { if (details.open) open.add(segment.id); else open.delete(segment.id); });
  return details;
}
