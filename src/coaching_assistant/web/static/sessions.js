// The sessions list (/): the user's sessions, newest first, with search by title, a status
// filter and pages, all kept in the URL (?q=&status=&page=) so reload and Back show the same
// list. Rows still transcribing follow their progress live, a few at a time.
import { api, currentUser, messageFor } from "./api.js";
import { h, replace } from "./dom.js";
import { clock, formatDate, lang, strings } from "./i18n.js";
import { notice, pageFrame } from "./layout.js";
import { IN_FLIGHT, STATUSES, followStatus, stageMessage, statusName } from "./session_status.js";

const PAGE_SIZE = 20;
// Event streams (or long-polls) at once: the server allows a user 4 of each, and a browser opens
// only 6 connections to one server, which the page's other requests need too.
const MAX_FOLLOWED = 3;
const SEARCH_DELAY = 300;

const t = strings({
  en: {
    title: "Sessions", new_session: "New session", search: "Search by title", status: "Status",
    all: "All statuses", col_title: "Title", col_date: "Date", col_length: "Audio", col_status: "Status",
    loading: "Loading sessions…", count: "{n} sessions", count_one: "1 session",
    page_of: "Page {page} of {pages}", previous: "Previous", next: "Next", pages: "Pages",
    empty_title: "No sessions yet",
    empty_lead: "Upload a recording of a coaching conversation: you get a transcript that shows who said what, "
      + "coach or client, with statistics and exports.",
    empty_cli: "Scripts can add sessions too: create an API key in {settings}, then use the transcribe command "
      + "({command}) or the API ({docs}).",
    settings: "Settings", docs: "/docs", command: "coaching-assistant transcribe FILE",
    no_match_title: "No sessions match",
    no_match_search: "No session title contains “{q}”.", no_match_status: "No session is “{status}”.",
    no_match_both: "No “{status}” session title contains “{q}”.",
    clear: "Show all sessions", no_length: "—", list_label: "Your sessions",
  },
  "zh-TW": {
    title: "會談", new_session: "新增會談", search: "依標題搜尋", status: "狀態",
    all: "所有狀態", col_title: "標題", col_date: "日期", col_length: "音訊", col_status: "狀態",
    loading: "正在載入會談…", count: "共 {n} 個會談", count_one: "共 1 個會談",
    page_of: "第 {page} 頁，共 {pages} 頁", previous: "上一頁", next: "下一頁", pages: "分頁",
    empty_title: "還沒有任何會談",
    empty_lead: "上傳一段教練會談的錄音，就會得到逐字稿，標出每句話是教練還是客戶說的，並附上統計與匯出。",
    empty_cli: "也可以用腳本新增會談：先到{settings}建立 API 金鑰，再使用 transcribe 指令"
      + "（{command}）或 API（{docs}）。",
    settings: "設定", docs: "/docs", command: "coaching-assistant transcribe 檔案",
    no_match_title: "沒有符合的會談",
    no_match_search: "沒有標題包含「{q}」的會談。", no_match_status: "沒有狀態為「{status}」的會談。",
    no_match_both: "沒有狀態為「{status}」且標題包含「{q}」的會談。",
    clear: "顯示所有會談", no_length: "—", list_label: "您的會談",
  },
});

/** The list's state, read from and written to the address bar. */
function readQuery() {
  const params = new URLSearchParams(location.search);
  const status = params.get("status") ?? "";
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return { q: params.get("q") ?? "", status: STATUSES.includes(status) ? status : "",
           page: Number.isFinite(page) && page >= 1 ? page : 1 };
}

function queryString({ q, status, page }) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (status) params.set("status", status);
  if (page > 1) params.set("page", String(page));
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** A text with {placeholders} filled by nodes (links), for a sentence that holds a link. */
function sentence(text, nodes) {
  return text.split(/(\{\w+\})/).map((part) => {
    const name = part.match(/^\{(\w+)\}$/)?.[1];
    return name && nodes[name] ? nodes[name] : part;
  });
}

function statusCell(session) {
  const cell = h("div", { class: "status-cell" });
  renderStatus(cell, { status: session.status, progress: 0, message: null }, session);
  return cell;
}

function renderStatus(cell, status, session) {
  const inFlight = IN_FLIGHT.has(status.status);
  const label = inFlight && status.status === "processing"
    ? `${statusName(status.status)} ${status.progress} %` : statusName(status.status);
  const detail = status.status === "failed" ? messageFor(session.error_code, session.error_message ?? "")
    : inFlight ? stageMessage(status.message, lang) : "";
  replace(cell,
    h("span", { class: ["status", status.status] }, label),
    status.status === "processing"
      ? h("progress", { max: 100, value: status.progress, "aria-label": `${statusName(status.status)} ${status.progress} %` })
      : null,
    detail ? h("span", { class: "status-detail" }, detail) : null);
}

function sessionRow(session) {
  const row = h("tr", { dataset: { id: session.id, status: session.status } },
    h("td", { class: "title", "data-label": t("col_title") }, h("a", { href: `/sessions/${session.id}` }, session.title)),
    h("td", { class: "date", "data-label": t("col_date") },
      h("time", { datetime: session.created_at }, formatDate(session.created_at))),
    h("td", { class: "length", "data-label": t("col_length") },
      session.duration_seconds ? clock(session.duration_seconds) : t("no_length")),
    h("td", { class: "state", "data-label": t("col_status") }, statusCell(session)));
  return row;
}

export async function show() {
  const me = await currentUser();
  let state = readQuery();
  let loading = null; // the AbortController of the list being loaded and its followers

  const search = h("input", { type: "search", name: "q", value: state.q, maxlength: 255, autocomplete: "off" });
  const statusFilter = h("select", { name: "status" },
    h("option", { value: "" }, t("all")),
    STATUSES.map((status) => h("option", { value: status }, statusName(status))));
  statusFilter.value = state.status;
  const results = h("div", { class: "sessions-results", "aria-busy": "true" }, h("p", { class: "muted" }, t("loading")));

  const toolbar = h("form", { class: "toolbar sessions-filters", role: "search", onsubmit: (event) => event.preventDefault() },
    h("label", { class: "field search" }, h("span", { class: "field-label" }, t("search")), search),
    h("label", { class: "field" }, h("span", { class: "field-label" }, t("status")), statusFilter));

  pageFrame(me, t("title"),
    h("div", { class: "page-head" }, h("h1", {}, t("title")),
      h("a", { class: "button primary", href: "/sessions/new" }, t("new_session"))),
    toolbar, results);

  /** Change the state; `push` adds a history entry (pages, filter), else the entry is replaced.
   * Resolves once the list is shown. */
  const go = (changes, { push = true } = {}) => {
    state = { ...state, ...changes };
    const url = location.pathname + queryString(state);
    if (push) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    return load();
  };

  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => go({ q: search.value.trim(), page: 1 }, { push: false }), SEARCH_DELAY);
  });
  statusFilter.addEventListener("change", () => go({ status: statusFilter.value, page: 1 }));
  window.addEventListener("popstate", () => {
    state = readQuery();
    search.value = state.q;
    statusFilter.value = state.status;
    load();
  });

  function pager(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const link = (page, text, rel) => (page >= 1 && page <= pages && page !== state.page
      ? h("a", { class: "button", href: location.pathname + queryString({ ...state, page }), rel,
                 onclick: async (event) => {
                   event.preventDefault();
                   await go({ page });
                   results.querySelector("table.sessions")?.focus(); // the new page's table, once shown
                 } }, text)
      : h("span", { class: "button", "aria-disabled": "true" }, text));
    return h("nav", { class: "pager", "aria-label": t("pages") },
      link(state.page - 1, t("previous"), "prev"),
      h("span", { class: "page-of" }, t("page_of", { page: state.page, pages })),
      link(state.page + 1, t("next"), "next"));
  }

  function emptyState() {
    if (state.q || state.status) {
      const what = state.q && state.status ? "no_match_both" : state.q ? "no_match_search" : "no_match_status";
      return h("section", { class: "card empty" },
        h("h2", {}, t("no_match_title")),
        h("p", {}, t(what, { q: state.q, status: statusName(state.status) })),
        h("button", { type: "button", onclick: () => {
          search.value = "";
          statusFilter.value = "";
          go({ q: "", status: "", page: 1 });
        } }, t("clear")));
    }
    return h("section", { class: "card empty" },
      h("h2", {}, t("empty_title")),
      h("p", {}, t("empty_lead")),
      h("p", {}, h("a", { class: "button primary", href: "/sessions/new" }, t("new_session"))),
      h("p", { class: "hint" }, sentence(t("empty_cli", { settings: "{settings}", docs: "{docs}", command: "{command}" }), {
        command: h("code", { class: "command" }, t("command")),
        settings: h("a", { href: "/settings" }, t("settings")), docs: h("a", { href: "/docs" }, t("docs")) })));
  }

  /** Follow the in-flight rows, at most MAX_FOLLOWED at once; a finished row is fetched again. */
  function follow(rows, signal) {
    const waiting = rows.filter((row) => IN_FLIGHT.has(row.dataset.status));
    const next = async () => {
      const row = waiting.shift();
      if (!row || signal.aborted) return;
      const cell = row.querySelector(".status-cell");
      try {
        const last = await followStatus(row.dataset.id, { signal, onStatus: (status) => {
          row.dataset.status = status.status;
          renderStatus(cell, status, {});
        } });
        if (last && !signal.aborted) {
          const fresh = await api(`/api/v1/sessions/${row.dataset.id}`, { signal });
          if (!signal.aborted) row.replaceWith(sessionRow(fresh));
        }
      } catch (error) {
        if (error.name !== "AbortError" && !signal.aborted) replace(cell, notice("error", error.message));
      }
      await next();
    };
    for (let i = 0; i < MAX_FOLLOWED; i += 1) next();
  }

  async function load() {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    results.setAttribute("aria-busy", "true");
    const params = new URLSearchParams({ page: String(state.page), page_size: String(PAGE_SIZE) });
    if (state.q) params.set("q", state.q);
    if (state.status) params.set("status", state.status);
    let body;
    try {
      body = await api(`/api/v1/sessions?${params}`, { signal: controller.signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(results, notice("error", error.message));
      results.setAttribute("aria-busy", "false");
      return;
    }
    if (controller.signal.aborted) return;
    const pages = Math.max(1, Math.ceil(body.total / PAGE_SIZE));
    if (body.total > 0 && state.page > pages) { // past the end (sessions were deleted): the last page
      await go({ page: pages }, { push: false });
      return;
    }
    results.setAttribute("aria-busy", "false");
    toolbar.hidden = body.total === 0 && !state.q && !state.status; // nothing to search yet
    if (body.total === 0) {
      replace(results, emptyState());
      return;
    }
    const rows = body.items.map(sessionRow);
    replace(results,
      h("p", { class: "muted count", role: "status" }, body.total === 1 ? t("count_one") : t("count", { n: body.total })),
      h("table", { class: "sessions", tabindex: "-1", "aria-label": t("list_label") },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, t("col_title")), h("th", { scope: "col" }, t("col_date")),
          h("th", { scope: "col" }, t("col_length")), h("th", { scope: "col" }, t("col_status")))),
        h("tbody", {}, rows)),
      pages > 1 ? pager(body.total) : null);
    follow(rows, controller.signal);
  }

  await load();
}
