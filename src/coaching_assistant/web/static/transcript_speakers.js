// The speakers: each one's role with its confidence and source, a name to show instead of the
// role's label, swapping coach and client in one click, and confirming the roles as they are
// (which teaches the coach's voice profile).
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { formatNumber, strings } from "./i18n.js";
import { notice } from "./layout.js";
import { roleName } from "./transcript_roles.js";

const t = strings({
  en: {
    speakers: "Speakers", swap: "Swap coach and client", speaker: "Speaker {id}", name_of: "Name for speaker {id}",
    name_hint: "Leave the name empty to show the role again.", save: "Save", saved: "Saved.",
    confidence: "{role} · {percent} % sure", by_you: "{role} · set by you", imported: "{role} · from the imported file",
    no_guess: "{role} · not enough evidence", by_voice: "{role} · your voice, {percent} % sure",
    confirm: "Confirm roles", confirm_hint: "Confirming teaches your voice profile, so your next sessions find you as the coach.",
  },
  "zh-TW": {
    speakers: "說話者", swap: "對調教練與客戶", speaker: "說話者 {id}", name_of: "說話者 {id} 的名稱",
    name_hint: "名稱留空即恢復顯示角色。", save: "儲存", saved: "已儲存。",
    confidence: "{role} · 信心 {percent} %", by_you: "{role} · 由您設定", imported: "{role} · 來自匯入的檔案",
    no_guess: "{role} · 證據不足", by_voice: "{role} · 依您的聲音辨識，信心 {percent} %",
    confirm: "確認角色", confirm_hint: "確認後，系統會學習您的聲音，之後的會談會自動認出您是教練。",
  },
});

function roleText(speaker) {
  const role = roleName(speaker.role);
  if (speaker.source === "user") return t("by_you", { role });
  if (speaker.source === "import") return t("imported", { role });
  if (speaker.confidence === null || speaker.confidence === undefined) return t("no_guess", { role });
  const percent = formatNumber(speaker.confidence * 100);
  return t(speaker.source === "voice" ? "by_voice" : "confidence", { role, percent });
}

/** ctx: {sessionId, update(transcript, {focus}), edits}; edits.names ({speaker id: unsaved name})
 *  outlives a redraw. */
export function speakersPanel(transcript, ctx) {
  const message = h("div", { class: "message" });
  const entries = Object.entries(transcript.speaker_roles);
  const coaches = entries.filter(([, s]) => s.role === "coach").map(([id]) => id);
  const clients = entries.filter(([, s]) => s.role === "client").map(([id]) => id);
  const swap = h("button", { type: "button", class: "swap", disabled: !coaches.length || !clients.length, onclick: async () => {
    swap.disabled = true;
    replace(message);
    try {
      const roles = Object.fromEntries([...coaches.map((id) => [id, "client"]), ...clients.map((id) => [id, "coach"])]);
      ctx.update(await api(`/api/v1/sessions/${ctx.sessionId}/speaker-roles`, { method: "PATCH", json: { speaker_roles: roles } }),
        { focus: ".speakers .swap" });
    } catch (error) {
      swap.disabled = false;
      replace(message, notice("error", error.message));
    }
  } }, t("swap"));
  const guessed = entries.some(([, s]) => ["coach", "client"].includes(s.role) && !["user", "import"].includes(s.source));
  const confirm = h("button", { type: "button", class: "confirm primary", disabled: !coaches.length, onclick: async () => {
    confirm.disabled = true;
    replace(message);
    try {
      ctx.update(await api(`/api/v1/sessions/${ctx.sessionId}/confirm-roles`, { method: "POST" }),
        { focus: ".speakers .swap" });
    } catch (error) {
      confirm.disabled = false;
      replace(message, notice("error", error.message));
    }
  } }, t("confirm"));
  return h("section", { class: "card speakers", "aria-labelledby": "speakers-title" },
    h("h2", { id: "speakers-title" }, t("speakers")),
    h("div", { class: "actions start" }, swap, guessed ? confirm : null),
    guessed ? h("p", { class: "hint" }, t("confirm_hint")) : null, message,
    h("ul", {}, entries.map(([id, speaker]) => speakerItem(id, speaker, ctx))));
}

function speakerItem(id, speaker, ctx) {
  const { names } = ctx.edits;
  const saved = speaker.user_label ?? "";
  const input = h("input", { type: "text", maxlength: 40, value: names.get(id) ?? saved, placeholder: speaker.label,
    "aria-label": t("name_of", { id }), autocomplete: "off" });
  input.addEventListener("input", () => { if (input.value === saved) names.delete(id); else names.set(id, input.value); });
  const save = h("button", { type: "submit", class: "small" }, t("save"));
  const message = h("div", { class: "message" });
  const form = h("form", { class: "speaker-name" }, input, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    replace(message);
    try {
      const updated = await api(`/api/v1/sessions/${ctx.sessionId}/speaker-labels`, { method: "PATCH",
        json: { speaker_labels: { [id]: input.value } } });
      names.delete(id);
      ctx.update(updated, { focus: `.speaker-${id} input` });
    } catch (error) {
      save.disabled = false;
      replace(message, notice("error", error.message));
    }
  });
  return h("li", { class: `speaker-card speaker-${id} role-${speaker.role}`, id: `speaker-card-${id}` },
    h("div", { class: "speaker-head" }, h("span", { class: "speaker-label" }, speaker.label),
      h("span", { class: "hint" }, t("speaker", { id }))),
    h("p", { class: "speaker-role" }, roleText(speaker)),
    form, h("p", { class: "hint" }, t("name_hint")), message);
}
