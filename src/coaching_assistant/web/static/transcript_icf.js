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
    // the server's own reason (English) is shown; other languages say it in theirs
    reason_length: "", reason_two_speakers: "", reason_roles_labelled: "", reason_timestamps: "",
    reason_first_names_only: "",
  },
  "zh-TW": {
    title: "ICF 認證檢查", checking: "檢查中…", ready: "符合 ICF 逐字稿規定，可下載 Word 檔。",
    not_ready: "尚未符合 ICF 認證送審規定：", length: "錄音 20 到 60 分鐘", two_speakers: "兩位說話者",
    roles_labelled: "每一段都標示教練或客戶", timestamps: "每次換人說話都有時間",
    first_names_only: "只用名字（不含姓氏）", met: "符合", not_met: "不符合", review: "請檢查",
    show_segment: "顯示第 {n} 段（共 {count} 段）", names: "請檢查：{names}",
    reason_length: "ICF 只評審 20 到 60 分鐘的完整會談錄音。",
    reason_two_speakers: "ICF 要求教練與一位客戶的對話；請檢查這些段落，或為它們設定正確的角色。",
    reason_roles_labelled: "這些段落不是教練也不是客戶；請設定說話者或段落的角色。",
    reason_timestamps: "這些段落沒有時間，或時間比前一段還早。",
    reason_first_names_only: "ICF 要求只使用名字。這些段落可能提到某人的姓氏，請檢查並修改文字。",
  },
});

const MARK = { met: "✓", not_met: "✗", review: "!" };

/** ctx: {sessionId}. The panel fills itself when the check answers. */
export function icfPanel(ctx) {
  const content = h("div", { class: "icf-content" }, h("p", { class: "muted" }, t("checking")));
  const panel = h("section", { class: "card icf", "aria-labelledby": "icf-title", "aria-busy": "true" },
    h("h2", { id: "icf-title" }, t("title")), content);
  api(`/api/v1/sessions/${ctx.sessionId}/icf-check`).then((check) => {
    replace(content, h("p", { class: check.passed ? "icf-summary passed" : "icf-summary" },
      check.passed ? t("ready") : t("not_ready")), h("ul", { class: "icf-rules" }, check.rules.map(ruleItem)));
  }, (error) => replace(content, h("p", { class: "muted" }, error.message)))
    .finally(() => panel.removeAttribute("aria-busy"));
  return panel;
}

function ruleItem(rule) {
  const state = rule.passed ? "met" : rule.severity === "warning" ? "review" : "not_met";
  return h("li", { class: `icf-rule ${state}`, dataset: { rule: rule.rule, state } },
    h("span", { class: "mark", "aria-hidden": "true" }, MARK[state]),
    h("span", { class: "rule-name" }, t(rule.rule)), h("span", { class: "visually-hidden" }, `: ${t(state)}`),
    rule.passed ? null : h("p", { class: "reason" }, t(`reason_${rule.rule}`) || rule.reason),
    rule.names?.length ? h("p", { class: "names" }, t("names", { names: rule.names.join(", ") })) : null,
    rule.segment_ids.length ? segmentLinks(rule.segment_ids) : null);
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
