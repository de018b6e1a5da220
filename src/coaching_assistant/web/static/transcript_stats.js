// Statistics: talk share per role as a stacked bar drawn here (SVG), questions per role (open and closed), the
// longest monologue, the average client turn and the silence.
import { h, svg } from "./dom.js";
import { clock, formatNumber, strings } from "./i18n.js";
import { ROLES, roleName } from "./transcript_roles.js";

const t = strings({
  en: {
    statistics: "Statistics", talk_share: "Talk share", chart: "Talk share: {shares}", share: "{role} {percent} %",
    questions: "Questions", questions_value: "{role}: {open} open, {closed} closed", longest: "Longest monologue", longest_value: "{duration} by {role}, at {time}",
    average_client: "Average client turn", silence: "Silence", turns: "Turns", none: "—",
    seconds: "{value} s", play_longest: "Play the longest monologue from {time}",
  },
  "zh-TW": {
    statistics: "統計", talk_share: "發言比例", chart: "發言比例：{shares}", share: "{role} {percent} %",
    questions: "提問數", questions_value: "{role}：開放式 {open}、封閉式 {closed}", longest: "最長的獨白", longest_value: "{role}，{duration}，從 {time} 開始",
    average_client: "客戶平均發言長度", silence: "靜默", turns: "輪次", none: "—",
    seconds: "{value} 秒", play_longest: "從 {time} 播放最長的獨白",
  },
});

const percent = (share) => formatNumber(share * 100);
const seconds = (value) => (value === null || value === undefined ? t("none") : t("seconds", { value: formatNumber(value) }));

/** The talk share of each role as one horizontal bar of 100 units, one rect per role. */
export function shareChart(roles) {
  const present = ROLES.filter((role) => roles[role]);
  const label = t("chart", { shares: present.map((role) => t("share", { role: roleName(role), percent: percent(roles[role].talk_share) })).join(", ") });
  let x = 0;
  const bars = present.map((role) => {
    const width = roles[role].talk_share * 100;
    const rect = svg("rect", { x, y: 0, width, height: 10, class: `share role-${role}`, "data-role": role,
      "data-share": roles[role].talk_share }, svg("title", {}, t("share", { role: roleName(role), percent: percent(roles[role].talk_share) })));
    x += width;
    return rect;
  });
  return h("figure", { class: "share-chart" },
    svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", role: "img", "aria-label": label, class: "share-bar" }, bars),
    h("figcaption", {}, h("ul", { class: "legend" }, present.map((role) => h("li", { class: `role-${role}` },
      h("span", { class: "swatch", "aria-hidden": "true" }), `${roleName(role)} `,
      h("strong", {}, `${percent(roles[role].talk_share)} %`))))));
}

/** ctx: {seek(seconds)} */
export function statsPanel(statistics, ctx) {
  const roles = statistics.roles ?? {};
  const present = ROLES.filter((role) => roles[role]);
  const longest = statistics.longest_monologue;
  const rows = [
    [t("questions"), present.map((role) => h("span", { class: "per-role" }, t("questions_value", { role: roleName(role),
      open: roles[role].open_questions ?? 0, closed: roles[role].closed_questions ?? 0 })))],
    [t("turns"), present.map((role) => `${roleName(role)} ${roles[role].turns}`).join(" · ")],
    [t("longest"), longest ? h("button", { type: "button", class: "link", "aria-label": t("play_longest", { time: clock(longest.start_seconds) }),
      onclick: () => ctx.seek(longest.start_seconds) },
    t("longest_value", { duration: seconds(longest.seconds), role: roleName(longest.role), time: clock(longest.start_seconds) })) : t("none")],
    [t("average_client"), seconds(statistics.average_client_turn_seconds)],
    [t("silence"), seconds(statistics.silence_seconds)],
  ];
  return h("section", { class: "card stats", "aria-labelledby": "stats-title" },
    h("h2", { id: "stats-title" }, t("statistics")),
    h("h3", {}, t("talk_share")), shareChart(roles),
    h("dl", {}, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
}
