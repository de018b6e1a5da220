// The entry point: the page module for this path. Each page module exports show(params).
import { h, replace } from "./dom.js";

const PAGES = [
  [/^\/sign-in$/, () => import("./sign_in.js")],
  [/^\/$/, () => import("./sessions.js")],
  [/^\/sessions\/new$/, () => import("./new_session.js")],
  [/^\/sessions\/(?<id>[0-9a-f-]{36})$/, () => import("./transcript.js")],
  [/^\/settings$/, () => import("./settings.js")],
];

async function start() {
  for (const [pattern, load] of PAGES) {
    const match = location.pathname.match(pattern);
    if (match) {
      const page = await load();
      await page.show(match.groups ?? {});
      return;
    }
  }
  replace(document.getElementById("app"), h("main", {}, h("h1", {}, "Not found"), h("a", { href: "/" }, "Sessions")));
}

start().catch((error) => {
  if (error?.status === 401) return; // on the way to the sign-in page
  replace(document.getElementById("app"), h("main", {}, h("p", { class: "notice error", role: "alert" }, error.message)));
  throw error;
});
