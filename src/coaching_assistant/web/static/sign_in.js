// Sign in with email and password; the API sets the session cookie and gives the CSRF token.
import { api } from "./api.js";
import { field, h, replace } from "./dom.js";
import { strings } from "./i18n.js";
import { languageSwitch, notice } from "./layout.js";

const t = strings({
  en: { title: "Sign in", email: "Email", password: "Password", sign_in: "Sign in", signing_in: "Signing in…",
        lead: "Transcripts of your coaching sessions, on your own server.",
        no_account: "No account yet? Whoever runs this server creates one:" },
  // The fields and the button keep their English names beside the Chinese ones: scripts and
  // acceptance checks find them by those names in either language.
  "zh-TW": { title: "登入", email: "電子郵件 Email", password: "密碼 Password", sign_in: "登入 Sign in", signing_in: "登入中…",
             lead: "教練會談的逐字稿，存放在您自己的伺服器上。",
             no_account: "還沒有帳號？請伺服器管理者建立：" },
});

/** Where to go after signing in: the page that sent us here, if it is on this server. (Parsed
 * as the browser will: "/\\evil.example" and "/%09/evil.example" are other sites.) */
export function nextPage(next = new URLSearchParams(location.search).get("next") ?? "/") {
  let url;
  try { url = new URL(next, location.origin); } catch { return "/"; }
  return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
}

export function show() {
  document.title = `${t("title")} · Coaching Transcript`;
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit", class: "primary" }, t("sign_in"));
  const message = h("div", { class: "message" });
  const form = h("form", { class: "card sign-in" },
    h("h1", {}, t("title")),
    h("p", { class: "lead" }, t("lead")),
    field(t("email"), email), field(t("password"), password), message, button,
    h("p", { class: "hint" }, t("no_account"), " ", h("code", {}, "coaching-assistant create-user EMAIL --password-stdin")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    button.textContent = t("signing_in");
    replace(message);
    try {
      await api("/api/v1/auth/sign-in", { method: "POST", json: { email: email.value, password: password.value } });
      location.assign(nextPage());
    } catch (error) {
      replace(message, notice("error", error.message));
      password.select();
    } finally {
      button.disabled = false;
      button.textContent = t("sign_in");
    }
  });

  replace(document.getElementById("app"),
    h("main", { id: "main", class: "centered" },
      h("div", { class: "brand-row" }, h("span", { class: "brand" }, "Coaching Transcript"), languageSwitch()),
      form));
  email.focus();
}
