// New session (/sessions/new): title, language, speakers and the audio file (picked or dropped);
// then create the session, upload the file with byte progress, and follow the transcription
// live to 100 %. A refused, failed or abandoned upload (the tab closed or left) deletes the
// session it created: nothing half-made, or said plainly when the deletion itself failed.
import { api, currentUser, messageFor, upload } from "./api.js";
import { h, replace } from "./dom.js";
import { formatBytes, lang, languageName, strings } from "./i18n.js";
import { confirmAction, notice, pageFrame } from "./layout.js";
import { followStatus, progressView } from "./session_status.js";

const LANGUAGE_TAGS = ["en-US", "zh-TW", "zh-CN", "ja-JP", "ko-KR", "es-ES", "fr-FR", "de-DE"];

const t = strings({
  en: {
    title: "New session", session_title: "Title", title_hint: "For example: Weekly coaching with Ana",
    language: "Language", speakers: "Number of speakers", auto: "Detect automatically",
    speakers_hint: "Coach and client: 2.",
    // Hooks: acceptance checks find the file input by "Audio file" and the button by "Upload".
    audio_file: "Audio file", upload: "Upload",
    drop: "Drag an audio file here, or choose one.", drop_now: "Drop the file to use it.",
    formats: "{formats}; up to {size}.", space: " ", chosen: "{name} ({size})",
    missing_title: "Give the session a title.", missing_file: "Choose the audio file to transcribe.",
    bad_extension: "“{name}” is not a supported audio file. Choose a {formats} file.",
    too_large: "“{name}” is {size}; this server accepts files up to {max}.",
    too_many_files: "Drop one file at a time.",
    creating: "Creating the session…", uploading: "Uploading {name}", bytes: "{sent} of {total}",
    transcribing: "Transcribing “{title}”", cancel: "Cancel",
    cancel_transcription: "Cancel transcription", cancelling: "Cancelling…", keep: "Keep transcribing",
    confirm_cancel: "Stop transcribing “{title}”? Nothing of it is kept; the session stays, marked cancelled.",
    upload_failed: "The upload did not go through: {message} Nothing was kept; you can try again.",
    upload_cancelled: "Upload cancelled. Nothing was kept.",
    upload_failed_kept: "The upload did not go through: {message}",
    cancelled_kept: "Upload cancelled.",
    not_deleted: "The session “{title}” it created could not be deleted: {message} Delete it from the sessions list.",
    confirm_delete: "Delete “{title}”? This cannot be undone.",
    failed: "The transcription failed: {message}", failed_code: "Error code: {code}",
    cancelled: "The transcription was cancelled.", open_session: "Open the session",
    delete_session: "Delete it", deleted: "The session was deleted.", start_over: "Start another",
    done: "Transcription complete. Opening the transcript…", leave: "The upload will stop if you leave.",
  },
  "zh-TW": {
    title: "新增會談", session_title: "標題", title_hint: "例如：與 Ana 的每週教練會談",
    language: "語言", speakers: "說話人數", auto: "自動偵測", speakers_hint: "教練與客戶：2 人。",
    audio_file: "音訊檔 Audio file", upload: "上傳 Upload",
    drop: "將音訊檔拖放到這裡，或選擇檔案。", drop_now: "放開以使用這個檔案。",
    formats: "{formats}，最大 {size}。", space: "", chosen: "{name}（{size}）",
    missing_title: "請輸入會談標題。", missing_file: "請選擇要轉錄的音訊檔。",
    bad_extension: "「{name}」不是支援的音訊檔。請選擇 {formats} 檔。",
    too_large: "「{name}」有 {size}，這台伺服器接受的檔案最大為 {max}。",
    too_many_files: "一次只能拖放一個檔案。",
    creating: "正在建立會談…", uploading: "正在上傳 {name}", bytes: "{sent} / {total}",
    transcribing: "正在轉錄「{title}」", cancel: "取消",
    cancel_transcription: "取消轉錄", cancelling: "取消中…", keep: "繼續轉錄",
    confirm_cancel: "要停止轉錄「{title}」嗎？轉錄結果不會保留；會談仍在，標示為已取消。",
    upload_failed: "上傳未完成：{message}未保留任何資料，您可以再試一次。",
    upload_cancelled: "已取消上傳，未保留任何資料。",
    upload_failed_kept: "上傳未完成：{message}",
    cancelled_kept: "已取消上傳。",
    not_deleted: "已建立的會談「{title}」無法刪除：{message}請到會談列表刪除它。",
    confirm_delete: "要刪除「{title}」嗎？刪除後無法復原。",
    failed: "轉錄失敗：{message}", failed_code: "錯誤代碼：{code}",
    cancelled: "已取消轉錄。", open_session: "開啟會談", delete_session: "刪除會談", deleted: "會談已刪除。",
    start_over: "新增另一個", done: "轉錄完成，正在開啟逐字稿…", leave: "離開此頁將中止上傳。",
  },
});

const extensionOf = (name) => (name.includes(".") ? name.split(".").pop().toLowerCase() : "");

const formatList = (formats) => new Intl.ListFormat(lang, { type: "disjunction" }).format(formats);

/** Refuse, in words, what the server would refuse anyway (its limits from GET /api/v1/me),
 * before anything is created. (A file over the size limit would be cut off mid-upload.) */
function problemWith(title, file, limits) {
  if (!title) return { message: t("missing_title"), field: "title" };
  if (!file) return { message: t("missing_file"), field: "file" };
  if (!limits.formats.includes(extensionOf(file.name))) {
    return { message: t("bad_extension", { name: file.name, formats: formatList(limits.formats) }), field: "file" };
  }
  if (file.size > limits.max_bytes) {
    return { message: t("too_large", { name: file.name, size: formatBytes(file.size), max: formatBytes(limits.max_bytes) }),
             field: "file" };
  }
  return null;
}

function warnOnLeave(event) {
  event.preventDefault();
  event.returnValue = t("leave");
}

export async function show() {
  const me = await currentUser();
  let chosen = null; // the File to upload, from the picker or a drop

  const title = h("input", { id: "session-title", name: "title", required: true, maxlength: 255, autocomplete: "off",
                             placeholder: t("title_hint") });
  const language = h("select", { id: "session-language", name: "language" },
    LANGUAGE_TAGS.map((tag) => h("option", { value: tag }, `${languageName(tag)} (${tag})`)));
  language.value = lang === "zh-TW" ? "zh-TW" : "en-US";
  const speakers = h("select", { id: "session-speakers", name: "num_speakers" },
    h("option", { value: "auto" }, t("auto")),
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => h("option", { value: String(n) }, String(n))));
  speakers.value = "2";
  const fileInput = h("input", { id: "audio-file", type: "file", name: "file",
                                 accept: me.upload_limits.formats.map((e) => `.${e}`).join(","), "aria-describedby": "audio-file-hint" });
  const chosenText = h("p", { class: "chosen", "aria-live": "polite" });
  const dropText = h("span", {}, t("drop"));
  const dropZone = h("div", { class: "drop-zone" },
    h("label", { for: "audio-file", class: "field-label" }, t("audio_file")),
    fileInput,
    h("p", { class: "hint", id: "audio-file-hint" }, dropText, t("space"),
      t("formats", { formats: formatList(me.upload_limits.formats), size: formatBytes(me.upload_limits.max_bytes) })),
    chosenText);
  const message = h("div", { class: "message" });
  const button = h("button", { type: "submit", class: "primary" }, t("upload"));
  const fields = h("fieldset", { class: "plain" },
    h("label", { class: "field" }, h("span", { class: "field-label" }, t("session_title")), title),
    h("div", { class: "field-row" },
      h("label", { class: "field" }, h("span", { class: "field-label" }, t("language")), language),
      h("label", { class: "field" }, h("span", { class: "field-label" }, t("speakers")), speakers,
        h("span", { class: "hint" }, t("speakers_hint")))),
    dropZone);
  const form = h("form", { class: "card new-session", novalidate: true }, fields, message,
    h("div", { class: "actions" }, button));
  const progressArea = h("section", { class: "card progress-area", hidden: true, "aria-live": "polite" });

  pageFrame(me, t("title"), h("h1", {}, t("title")), form, progressArea);
  title.focus();

  const choose = (file) => {
    chosen = file ?? null;
    replace(chosenText, chosen ? t("chosen", { name: chosen.name, size: formatBytes(chosen.size) }) : "");
    fileInput.removeAttribute("aria-invalid");
    replace(message);
  };
  fileInput.addEventListener("change", () => choose(fileInput.files[0]));

  // Drag and drop: the whole zone takes the file; the input is set too where the browser allows.
  let depth = 0;
  const dragging = (on) => { dropZone.classList.toggle("dragging", on); replace(dropText, on ? t("drop_now") : t("drop")); };
  dropZone.addEventListener("dragenter", (event) => { event.preventDefault(); depth += 1; dragging(true); });
  dropZone.addEventListener("dragover", (event) => { event.preventDefault(); event.dataTransfer.dropEffect = "copy"; });
  dropZone.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) dragging(false); });
  // A file dropped beside the zone would make the browser open it, and the form would be lost.
  document.addEventListener("dragover", (event) => {
    if (dropZone.contains(event.target)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "none";
  });
  document.addEventListener("drop", (event) => { if (!dropZone.contains(event.target)) event.preventDefault(); });
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    dragging(false);
    const files = event.dataTransfer?.files ?? [];
    if (files.length !== 1) {
      replace(message, notice("error", t("too_many_files")));
      return;
    }
    try { fileInput.files = files; } catch { /* read-only here: `chosen` holds it */ }
    choose(files[0]);
  });

  const refuse = (problem) => {
    const control = problem.field === "title" ? title : fileInput;
    control.setAttribute("aria-invalid", "true");
    replace(message, notice("error", problem.message));
    control.focus();
  };
  title.addEventListener("input", () => title.removeAttribute("aria-invalid"));

  /** Back to the form, with a message (after a refusal or a cancelled upload). */
  const backToForm = (...shown) => {
    window.removeEventListener("beforeunload", warnOnLeave);
    fields.disabled = false;
    button.disabled = false;
    progressArea.hidden = true;
    replace(progressArea);
    replace(message, shown);
    form.hidden = false;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = problemWith(title.value.trim(), chosen, me.upload_limits);
    if (problem) { refuse(problem); return; }
    fields.disabled = true;
    button.disabled = true;
    replace(message);
    await run({ title: title.value.trim(), language: language.value,
                num_speakers: speakers.value === "auto" ? "auto" : Number(speakers.value) }, chosen);
  });

  async function run(details, file) {
    window.addEventListener("beforeunload", warnOnLeave);
    const uploadAbort = new AbortController();
    let session = null;
    let left = false;
    // Leaving mid-upload (tab closed, reload, another page; the warning can be dismissed): the
    // page cannot wait for an answer, so it sends the deletion as a request that outlives it.
    const onLeave = () => {
      left = true;
      if (!session) return;
      fetch(`/api/v1/sessions/${session.id}`, { method: "DELETE", keepalive: true, credentials: "same-origin",
                                                headers: { "X-CSRF-Token": me.csrf_token } }).catch(() => {});
    };
    window.addEventListener("pagehide", onLeave);
    const bar = h("progress", { max: file.size || 1, value: 0, "aria-label": t("uploading", { name: file.name }) });
    const bytes = h("p", { class: "bytes" }, t("creating"));
    const cancelUpload = h("button", { type: "button", onclick: () => uploadAbort.abort() }, t("cancel"));
    const heading = h("h2", { tabindex: "-1" }, t("uploading", { name: file.name }));
    form.hidden = true;
    progressArea.hidden = false;
    replace(progressArea, heading, bar, bytes, h("div", { class: "actions start" }, cancelUpload));
    heading.focus();

    try {
      session = await api("/api/v1/sessions", { method: "POST", json: details });
      replace(bytes, t("bytes", { sent: formatBytes(0), total: formatBytes(file.size) }));
      await upload(`/api/v1/sessions/${session.id}/audio`, file, (sent, total) => {
        // The request carries a little more than the file (the form around it): show the file's bytes.
        const done = total ? Math.min(file.size, Math.round((sent / total) * file.size)) : 0;
        bar.value = done;
        replace(bytes, t("bytes", { sent: formatBytes(done), total: formatBytes(file.size) }));
      }, { signal: uploadAbort.signal });
    } catch (error) {
      if (left) return;
      // The session it created goes too; if that fails, say so rather than "nothing was kept".
      const notDeleted = session && await api(`/api/v1/sessions/${session.id}`, { method: "DELETE" })
        .then(() => null, (failure) => (failure.code === "session_not_found" ? null : failure));
      window.removeEventListener("pagehide", onLeave);
      const cancelled = error.name === "AbortError";
      if (notDeleted) {
        backToForm(notice("error", cancelled ? t("cancelled_kept") : t("upload_failed_kept", { message: error.message }),
          t("space"), t("not_deleted", { title: session.title, message: notDeleted.message })));
      } else if (cancelled) backToForm(notice("info", t("upload_cancelled")));
      else backToForm(notice("error", session ? t("upload_failed", { message: error.message }) : error.message));
      fileInput.focus();
      return;
    }
    window.removeEventListener("pagehide", onLeave);
    window.removeEventListener("beforeunload", warnOnLeave);
    await transcribe(session);
  }

  async function transcribe(session) {
    const follow = new AbortController();
    const view = progressView();
    const result = h("div", { class: "result" });
    const cancel = h("button", { type: "button", onclick: async () => {
      if (!(await confirmAction(t("confirm_cancel", { title: session.title }), t("cancel_transcription"), t("keep")))) return;
      cancel.disabled = true;
      cancel.textContent = t("cancelling");
      try {
        await api(`/api/v1/sessions/${session.id}/cancel`, { method: "POST" });
      } catch (error) {
        replace(result, notice("error", error.message));
        cancel.disabled = false;
        cancel.textContent = t("cancel_transcription");
      }
    } }, t("cancel_transcription"));
    const heading = h("h2", { tabindex: "-1" }, t("transcribing", { title: session.title }));
    replace(progressArea, heading, view.element, result, h("div", { class: "actions start" }, cancel));
    heading.focus();

    let last;
    try {
      last = await followStatus(session.id, { signal: follow.signal, onStatus: view.update });
    } catch (error) {
      last = null;
      replace(result, notice("error", error.message));
    } finally {
      view.stop();
    }
    if (!last) return;
    cancel.remove();
    const openLink = h("a", { href: `/sessions/${session.id}` }, t("open_session"));
    const again = h("a", { href: "/sessions/new" }, t("start_over"));
    if (last.status === "completed") {
      replace(result, notice("success", t("done")));
      location.assign(`/sessions/${session.id}`);
    } else if (last.status === "failed") {
      replace(result, notice("error", t("failed", { message: messageFor(last.error_code, last.message ?? "") }),
        " ", last.error_code ? t("failed_code", { code: last.error_code }) : ""),
        h("p", { class: "actions start" }, openLink, again));
    } else {
      const remove = h("button", { type: "button", class: "small", onclick: async () => {
        if (!(await confirmAction(t("confirm_delete", { title: session.title }), t("delete_session")))) return;
        remove.disabled = true;
        try {
          await api(`/api/v1/sessions/${session.id}`, { method: "DELETE" });
          backToForm(notice("info", t("deleted")));
        } catch (error) {
          remove.disabled = false;
          replace(result, notice("error", error.message), h("p", { class: "actions start" }, openLink, remove, again));
        }
      } }, t("delete_session"));
      replace(result, notice("info", t("cancelled")), h("p", { class: "actions start" }, openLink, remove, again));
    }
  }
}

