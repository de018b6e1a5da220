// Settings: the user's API key for scripts (shown once when created; revoke), and the language.
import { api, currentUser } from "./api.js";
import { h, replace } from "./dom.js";
import { strings } from "./i18n.js";
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

export async function show() {
  const me = await currentUser();
  pageFrame(me, t("title"),
    h("h1", {}, t("title")),
    keySection(me),
    h("section", { class: "card" }, h("h2", {}, t("account")), h("p", {}, t("signed_in_as", { email: me.email }))));
}
