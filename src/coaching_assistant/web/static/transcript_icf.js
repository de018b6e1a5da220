// The ICF check (GET …/icf-check): does this transcript meet ICF's rules for a credential
// submission? One line per rule, met or not, with what to do; the segments at fault are links.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { strings } from "./i18n.js";

const t = strings({
  en: {
    title: "ICF credential check", checking: "Checking…", ready: "Meets ICF's transcript rules. Download it as Word.",
    not_ready: "Not ready for an ICF submission yet:", length: "20 to 60 minutes", two_speakers: "Two speakers",
    roles_labelled: "Every line is coach or client", timestamps: "A time at every change of speaker",
    first_names_only: "First names only", met: "met", not_met: "not met", review: "review",
    show_segment: "Show segment {n} of {count}", names: "Check: {names}",
    // the server's own reason (English) is shown; other languages say each problem in theirs
    too_short: "", too_long: "", one_voice: "", extra_voices: "", unlabelled: "", missing_role: "", bad_times: "",
    surnames: "", role_coach: "coach", role_client: "client",
  },
  "zh-TW": {
    title: "ICF 認證檢查", checking: "檢查中…", ready: "符合 ICF 逐字稿規定，可下載 Word 檔。",
    not_ready: "尚未符合 ICF 認證送審規定：", length: "錄音 20 到 60 分鐘", two_speakers: "兩位說話者",
    roles_labelled: "每一段都標示教練或客戶", timestamps: "每次換人說話都有時間",
    first_names_only: "只用名字（不含姓氏）", met: "符合", not_met: "不符合", review: "請檢查",
    show_segment: "顯示第 {n} 段（共 {count} 段）", names: "請檢查：{names}",
    too_short: "錄音長 {length}；ICF 不接受短於 20 分鐘的錄音。",
    too_long: "錄音長 {length}；ICF 不評審長於 60 分鐘的錄音。",
    one_voice: "只聽到一個聲音；ICF 要求教練與一位客戶的對話。如果有兩個人說話，請以 2 位說話者重新轉錄。",
    extra_voices: "聽到 {voices} 個聲音；ICF 要求教練與一位客戶的對話。如果這些段落是教練或客戶說的，請設定它們的角色；也可以用 2 位說話者重新轉錄。",
    unlabelled: "有 {count} 個段落既不是教練也不是客戶；請設定說話者或段落的角色。",
    missing_role: "沒有任何段落標示為{role}；送審的逐字稿需要同時有教練和客戶的話。",
    bad_times: "這些段落沒有時間，或時間比前一段還早；請修正，讓每次換人說話都有時間。",
    surnames: "ICF 要求只使用名字。這些可能提到某人的姓氏（在段落、標題或說話者名稱中），請檢查並修改。",
    role_coach: "教練", role_client: "客戶",
  },
});

const MARK = { met: "✓", not_met: "✗", review: "!" };
// Every edit redraws the transcript and with it this panel: only the newest panel asks the
// server, once edits pause, so quick edits do not queue checks behind each other.
const SETTLE_MS = 400;
let pending = null;

/** ctx: {sessionId}. The panel fills itself when the check answers. */
export function icfPanel(ctx) {
  const content = h("div", { class: "icf-content" }, h("p", { class: "muted" }, t("checking")));
  const panel = h("section", { class: "card icf", "aria-labelledby": "icf-title", "aria-busy": "true" },
    h("h2", { id: "icf-title" }, t("title")), content);
  clearTimeout(pending);
  pending = setTimeout(() => api(`/api/v1/sessions/${ctx.sessionId}/icf-check`).then((check) => {
    replace(content, h("p", { class: check.passed ? "icf-summary passed" : "icf-summary" },
      check.passed ? t("ready") : t("not_ready")), h("ul", { class: "icf-rules" }, check.rules.map(ruleItem)));
  }, (error) => replace(content, h("p", { class: "muted" }, error.message)))
    .finally(() => panel.removeAttribute("aria-busy")), SETTLE_MS);
  return panel;
}

function ruleItem(rule) {
  const state = rule.passed ? "met" : rule.severity === "warning" ? "review" : "not_met";
  return h("li", { class: `icf-rule ${state}`, dataset: { rule: rule.rule, state } },
    h("span", { class: "mark", "aria-hidden": "true" }, MARK[state]),
    h("span", { class: "rule-name" }, t(rule.rule)), h("span", { class: "visually-hidden" }, `: ${t(state)}`),
    rule.passed ? null : h("p", { class: "reason" }, reasonOf(rule)),
    rule.names?.length ? h("p", { class: "names" }, t("names", { names: rule.names.join(", ") })) : null,
    rule.segment_ids.length ? segmentLinks(rule.segment_ids) : null);
}

/** The reason in the interface language: the server's English, or this language's words for the
 * same problem with the same numbers. */
function reasonOf(rule) {
  const details = { ...rule.details };
  if (details.role) details.role = t(`role_${details.role}`);
  return (rule.problem && t(rule.problem, details)) || rule.reason;
}

/** Links to the first few segments at fault, in the transcript beside the panel. */
function segmentLinks(ids) {
  const shown = ids.slice(0, 5);
  return h("p", { class: "segment-links" }, shown.map((id, i) => h("a", {
    href: `#segment-${id}`, class: "segment-link", "aria-label": t("show_segment", { n: i + 1, count: ids.length }),
    onclick: (event) => {
      const target = document.getElementById(`segment-${id}`);
      if (!target) return;
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      target.querySelector("button.seek")?.focus({ preventScroll: true });
    },
  }, `#${i + 1}`)), ids.length > shown.length ? ` … (${ids.length})` : null);
}
