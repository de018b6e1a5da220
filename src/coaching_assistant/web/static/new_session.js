// Placeholder until this page is built.
import { currentUser } from "./api.js";
import { h } from "./dom.js";
import { pageFrame } from "./layout.js";

export async function show() {
  const me = await currentUser();
  pageFrame(me, "Coaching Transcript", h("h1", {}, "Coming soon"));
}
