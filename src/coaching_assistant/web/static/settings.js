// Settings: the user's API key for scripts (shown once when created; revoke), the voice profile
// (what it holds, learning on or off, delete), and the language.
import { api, currentUser } from "./api.js";
import { h, replace } from "./dom.js";
import { formatNumber, strings } from "./i18n.js";
import { confirmAction, notice, pageFrame } from "./layout.js";

const t = strings({
  en: {
    title: "Settings", api_key: "API key",
    api_key_lead: "Scripts, the CLI and other tools use an API key instead of your password: "
      + "Authorization: Bearer <key>. There is one per account; creating a new one replaces the old.",
    none: "You have no API key.", current: "Your key starts with {prefix}…",
    create: "Create API key", replace: "Replace API key", revoke: "Revoke API key",
    created: "Your new API key. Copy it now: it is shown only this once.",
    copy: "Copy", copied: "Copied", copy_by_hand: "The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.", revoked: "The API key is revoked; scripts that used it are refused from now on.",
    confirm_replace: "Scripts using the current key will be refused once it is replaced.",
    confirm_revoke: "Revoke the API key? Scripts using it will be refused.",
    account: "Account", signed_in_as: "Signed in as {email}",
    voice: "Voice profile",
    voice_lead: "When you confirm a session's roles, your voice as the coach is remembered, so later sessions "
      + "find you as the coach even when the conversation itself points the other way.",
    voice_none: "No voice profile yet: confirm the roles of a transcribed session to start one.",
    voice_holds: "Your voice from {sessions} sessions, {minutes} minutes of speech.",
    voice_learning: "Learn my voice when I confirm roles", voice_delete: "Delete voice profile",
    voice_confirm_delete: "Delete your voice profile? New sessions will guess roles from the conversation only.",
    voice_deleted: "Your voice profile is deleted.",
  },
  "zh-TW": {
    title: "設定", api_key: "API 金鑰",
    api_key_lead: "腳本、命令列工具與其他程式使用 API 金鑰而非密碼：Authorization: Bearer <金鑰>。"
      + "每個帳號一把，建立新的金鑰會取代舊的。",
    none: "您還沒有 API 金鑰。", current: "您的金鑰開頭為 {prefix}…",
    create: "建立 API 金鑰", replace: "更換 API 金鑰", revoke: "撤銷 API 金鑰",
    created: "您的新 API 金鑰。請現在複製：它只會顯示這一次。",
    copy: "複製", copied: "已複製", copy_by_hand: "金鑰已選取：請按 Ctrl+C（Mac 為 ⌘C）複製。", revoked: "API 金鑰已撤銷，使用它的腳本將被拒絕。",
    confirm_replace: "更換後，使用目前金鑰的腳本將被拒絕。",
    confirm_revoke: "要撤銷 API 金鑰嗎？使用它的腳本將被拒絕。",
    account: "帳號", signed_in_as: "目前登入：{email}",
    voice: "聲音設定檔",
    voice_lead: "確認會談的角色時，系統會記住您身為教練的聲音，之後的會談即使對話內容看似相反，也能認出您是教練。",
    voice_none: "尚無聲音設定檔：確認一場已轉錄會談的角色即可建立。",
    voice_holds: "來自 {sessions} 場會談的聲音，共 {minutes} 分鐘。",
    voice_learning: "確認角色時學習我的聲音", voice_delete: "刪除聲音設定檔",
    voice_confirm_delete: "要刪除聲音設定檔嗎？之後的會談將只依對話內容判斷角色。",
    voice_deleted: "聲音設定檔已刪除。",
  },
});

/** Copy the key; where the clipboard API is missing (plain http off localhost) or refused, select
 * the key's text and say which keys copy it. */
async function copyKey(key, said) {
  try {
    await navigator.clipboard.writeText(key.textContent);
    replace(said, t("copied"));
  } catch {
    const range = document.createRange();
    range.selectNodeContents(key);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    replace(said, t("copy_by_hand"));
  }
}

function keySection(me, shown) {
  const section = h("section", { class: "card settings-key", "aria-labelledby": "api-key-title" });
  let buttons = [];
  /** One request at a time: a double click must not issue two keys (the page would show the dead one). */
  const busy = (on) => { for (const button of buttons) button.disabled = on; };
  const render = (state, message) => {
    buttons = [];
    if (state.has_api_key) {
      buttons.push(h("button", { type: "button", onclick: () => create(state) }, t("replace")));
      buttons.push(h("button", { type: "button", class: "danger", onclick: () => revoke(state) }, t("revoke")));
    } else {
      buttons.push(h("button", { type: "button", class: "primary", onclick: () => create(state) }, t("create")));
    }
    replace(section,
      h("h2", { id: "api-key-title" }, t("api_key")),
      h("p", { class: "hint" }, t("api_key_lead")),
      message,
      h("p", {}, state.has_api_key ? t("current", { prefix: state.api_key_prefix }) : t("none")),
      h("div", { class: "actions start" }, buttons));
  };
  const create = async (state) => {
    if (state.has_api_key && !(await confirmAction(t("confirm_replace"), t("replace")))) return;
    busy(true);
    try {
      const issued = await api("/api/v1/me/api-key", { method: "POST" });
      const key = h("code", { class: "secret" }, issued.api_key);
      const copied = h("span", { class: "copied", role: "status" });
      const copy = h("button", { type: "button", class: "small", onclick: () => copyKey(key, copied) }, t("copy"));
      render({ has_api_key: true, api_key_prefix: issued.prefix },
        notice("success", t("created"), " ", key, " ", copy, " ", copied));
      copy.focus();
    } catch (error) {
      render(state, notice("error", error.message));
    }
  };
  const revoke = async (state) => {
    if (!(await confirmAction(t("confirm_revoke"), t("revoke")))) return;
    busy(true);
    try {
      await api("/api/v1/me/api-key", { method: "DELETE" });
      render({ has_api_key: false, api_key_prefix: null }, notice("info", t("revoked")));
    } catch (error) {
      render(state, notice("error", error.message));
    }
  };
  render(me, shown);
  return section;
}

function voiceSection(profile) {
  const section = h("section", { class: "card settings-voice", "aria-labelledby": "voice-title" });
  const render = (state, message) => {
    const learning = h("input", { type: "checkbox", id: "voice-learning", checked: state.learning });
    learning.addEventListener("change", async () => {
      learning.disabled = true;
      try {
        render(await api("/api/v1/me/voice-profile", { method: "PATCH", json: { learning: learning.checked } }));
        section.querySelector("#voice-learning").focus();
      } catch (error) {
        render(state, notice("error", error.message));
      }
    });
    const remove = h("button", { type: "button", class: "danger", disabled: !state.sessions, onclick: async () => {
      if (!(await confirmAction(t("voice_confirm_delete"), t("voice_delete")))) return;
      remove.disabled = true;
      try {
        await api("/api/v1/me/voice-profile", { method: "DELETE" });
        render({ ...state, sessions: 0, seconds: 0, updated_at: null }, notice("info", t("voice_deleted")));
      } catch (error) {
        render(state, notice("error", error.message));
      }
    } }, t("voice_delete"));
    replace(section,
      h("h2", { id: "voice-title" }, t("voice")),
      h("p", { class: "hint" }, t("voice_lead")),
      message,
      h("p", {}, state.sessions ? t("voice_holds", { sessions: state.sessions, minutes: formatNumber(state.seconds / 60) })
        : t("voice_none")),
      h("p", {}, h("label", { for: "voice-learning" }, learning, " ", t("voice_learning"))),
      h("div", { class: "actions start" }, remove));
  };
  render(profile);
  return section;
}

export async function show() {
  const me = await currentUser();
  const profile = await api("/api/v1/me/voice-profile");
  pageFrame(me, t("title"),
    h("h1", {}, t("title")),
    keySection(me),
    voiceSection(profile),
    h("section", { class: "card" }, h("h2", {}, t("account")), h("p", {}, t("signed_in_as", { email: me.email }))));
}
