// What every signed-in page shares: the header (navigation, language switch, sign out), the
// place for messages, and the confirmation dialog.
import { api, setCsrfToken } from "./api.js";
import { h, replace } from "./dom.js";
import { LANGUAGES, lang, setLanguage, strings } from "./i18n.js";

const t = strings({
  en: { sessions: "Sessions", new_session: "New session", settings: "Settings", sign_out: "Sign out",
        language: "Language", main_nav: "Main", cancel: "Cancel", skip: "Skip to content" },
  "zh-TW": { sessions: "會談", new_session: "新增會談", settings: "設定", sign_out: "登出",
             language: "語言", main_nav: "主選單", cancel: "取消", skip: "跳到主要內容" },
});

export function languageSwitch() {
  const select = h("select", { "aria-label": t("language"), class: "language", onchange: (event) => setLanguage(event.target.value) },
    Object.entries(LANGUAGES).map(([code, name]) => h("option", { value: code, selected: code === lang }, name)));
  return select;
}

async function signOut() {
  try { await api("/api/v1/auth/sign-out", { method: "POST" }); } finally {
    setCsrfToken(null);
    location.assign("/sign-in");
  }
}

function navLink(href, text) {
  const current = location.pathname === href;
  return h("a", { href, "aria-current": current ? "page" : null }, text);
}

/** Fill #app with the header and `content`; returns the <main> element. */
export function pageFrame(user, title, ...content) {
  document.title = `${title} · Coaching Transcript`;
  const main = h("main", { id: "main", tabindex: "-1" }, content);
  replace(document.getElementById("app"),
    h("a", { class: "skip", href: "#main" }, t("skip")),
    h("header", { class: "top" },
      h("a", { class: "brand", href: "/" }, "Coaching Transcript"),
      h("nav", { "aria-label": t("main_nav") }, navLink("/", t("sessions")), navLink("/sessions/new", t("new_session")),
        navLink("/settings", t("settings"))),
      h("div", { class: "account" }, h("span", { class: "email" }, user.email), languageSwitch(),
        h("button", { type: "button", class: "link", onclick: signOut }, t("sign_out")))),
    main);
  return main;
}

/** A message box: kind is "error", "info" or "success". */
export function notice(kind, ...text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** Ask before something that cannot be undone; resolves true when confirmed. `dismissLabel`
 *  names the button that leaves things as they are ("Cancel" when not given). */
export function confirmAction(message, confirmLabel, dismissLabel = t("cancel")) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm" },
      h("p", {}, message),
      h("form", { method: "dialog", class: "actions" },
        h("button", { value: "cancel", class: "secondary" }, dismissLabel),
        h("button", { value: "confirm", class: "danger" }, confirmLabel)));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "confirm"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}
