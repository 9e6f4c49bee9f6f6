// Chat UI for cohort-engine. Plain JS, no libraries, nothing loaded from elsewhere.
// Every value from the server or the user is put on the page with textContent (never innerHTML).
"use strict";

(() => {
  const STRINGS = {
    en: {
      title: "Cohort Engine", apiKey: "API key", chat: "Chat", question: "Question", send: "Ask",
      intro: "Describe the patients you are looking for, in English or Korean.",
      placeholder: "e.g. patients diagnosed with myocardial infarction in 2023 who had a CABG within 30 days",
      cohort: "Cohort", patients: "patients", readback: "Read-back", criteria: "Criteria",
      criteriaHelp: "Edit a window, drop a criterion or swap a code set, then re-run.",
      rerun: "Re-run", funnel: "Attrition", pyramid: "Age and sex at index", months: "Index dates by month",
      modalities: "Imaging modalities", bodyParts: "Body parts imaged", codes: "Resolved codes", sql: "SQL",
      requestManifest: "Request imaging manifest", save: "Save",
      keyHelp: "Ask an administrator for a key (cohort keys create). It stays in this browser only.",
      needKey: "Enter an API key first.", thinking: "Working…",
      index: "Index event", demographics: "Demographics", criterion: "Criterion", drop: "Drop",
      domain: "Domain", terms: "Terms (comma-separated)", codeset: "Code set", none: "(none)",
      from: "From", to: "To", firstOnly: "First occurrence only", sexes: "Sex", male: "Male", female: "Female",
      ageMin: "Min age", ageMax: "Max age", label: "Label", windowStart: "Window start (days)",
      windowEnd: "Window end (days)", anchor: "Relative to", occurrence: "Occurrence", count: "Count",
      atLeast: "at least", atMost: "at most", exactly: "exactly", indexAnchor: "index event",
      rerunning: "Re-running…", reran: "Re-ran the edited criteria.",
      suppressed: (k) => `Counts below ${k} are shown as “<${k}”.`,
      requested: "Requested. A data steward will review the release.",
      approved: "Approved for release.", noData: "No data.", persons: "persons",
      other: "other", choose: "Choose one:", editHint: "Edit your question and send it again.",
      errorPrefix: "Error",
      busy: (s) => `The server is busy; retrying in ${s} s…`,
      imaging: "Their images", modality: "Modality", patientsCol: "Patients", studies: "Studies", series: "Series", instances: "Images",
      hiddenCell: "hidden", hiddenHelp: (k) => `Hidden: with fewer than ${k} patients, a row's image counts could identify them.`,
      noImages: "No indexed images for this cohort.",
      understood: "Understood so far:", asked: "Your question (marked: not understood):",
      waysForward: "Continue with:", kindDrop: "Drop", kindMeans: "It means", kindReading: "Reading",
      kindConcept: "Concept", unreadMark: "not understood", unclearMark: "unclear",
      applied: "Applied:", notApplied: "Not applied:",
    },
    ko: {
      title: "코호트 엔진", apiKey: "API 키", chat: "대화", question: "질문", send: "질문하기",
      intro: "찾고 싶은 환자 조건을 한국어나 영어로 입력하세요.",
      placeholder: "예: 2023년에 심근경색으로 진단받고 30일 이내 관상동맥 우회술을 받은 환자",
      cohort: "코호트", patients: "명", readback: "조건 확인", criteria: "조건",
      criteriaHelp: "기간을 바꾸거나 조건을 빼거나 코드셋을 바꾼 뒤 다시 실행하세요.",
      rerun: "다시 실행", funnel: "단계별 환자 수", pyramid: "기준일 나이·성별", months: "월별 기준일",
      modalities: "영상 검사 종류", bodyParts: "촬영 부위", codes: "해석된 코드", sql: "SQL",
      requestManifest: "영상 목록 요청", save: "저장",
      keyHelp: "관리자에게 키를 요청하세요 (cohort keys create). 키는 이 브라우저에만 저장됩니다.",
      needKey: "먼저 API 키를 입력하세요.", thinking: "처리 중…",
      index: "기준 사건", demographics: "인구학적 조건", criterion: "조건", drop: "삭제",
      domain: "영역", terms: "용어 (쉼표로 구분)", codeset: "코드셋", none: "(없음)",
      from: "시작일", to: "종료일", firstOnly: "첫 발생만", sexes: "성별", male: "남성", female: "여성",
      ageMin: "최소 나이", ageMax: "최대 나이", label: "이름", windowStart: "기간 시작 (일)",
      windowEnd: "기간 끝 (일)", anchor: "기준", occurrence: "횟수 조건", count: "횟수",
      atLeast: "이상", atMost: "이하", exactly: "정확히", indexAnchor: "기준 사건",
      rerunning: "다시 실행 중…", reran: "수정한 조건으로 다시 실행했습니다.",
      suppressed: (k) => `${k}명 미만은 “<${k}”로 표시됩니다.`,
      requested: "요청되었습니다. 데이터 관리자가 검토합니다.",
      approved: "반출이 승인되었습니다.", noData: "자료 없음", persons: "명",
      other: "기타", choose: "하나를 고르세요:", editHint: "질문을 고쳐서 다시 보내세요.",
      errorPrefix: "오류",
      busy: (s) => `서버가 바쁩니다. ${s}초 뒤 다시 시도합니다…`,
      imaging: "영상 자료", modality: "검사 종류", patientsCol: "환자", studies: "검사", series: "시리즈", instances: "영상",
      hiddenCell: "비공개", hiddenHelp: (k) => `비공개: 환자가 ${k}명 미만인 행의 영상 수로 환자를 알아볼 수 있어 가립니다.`,
      noImages: "이 코호트에는 색인된 영상이 없습니다.",
      understood: "지금까지 이해한 조건:", asked: "질문 (표시한 부분은 이해하지 못함):",
      waysForward: "이렇게 이어서 물을 수 있습니다:", kindDrop: "빼기", kindMeans: "이런 뜻", kindReading: "해석",
      kindConcept: "개념", unreadMark: "이해하지 못함", unclearMark: "모호함",
      applied: "적용:", notApplied: "적용 안 됨:",
    },
  };
  const DOMAINS = ["condition", "procedure", "drug", "measurement", "observation", "visit", "imaging", "death"];
  const DOMAIN_KO = { condition: "진단", procedure: "시술/수술", drug: "약물", measurement: "검사", observation: "관찰",
    visit: "방문", imaging: "영상", death: "사망" };

  const $ = (id) => document.getElementById(id);
  const state = {
    lang: localStorage.getItem("cohort.lang") || ((navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en"),
    key: localStorage.getItem("cohort.apiKey") || "",
    question: "", overrides: {}, result: null, codesets: [],
    // The question as typed, and the choices picked since (sent back as `answers`, applied server-side).
    original: "", answers: [],
  };
  const t = (name) => STRINGS[state.lang][name] ?? STRINGS.en[name] ?? name;

  // -- helpers -----------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Retries per status: a key may have only a few heavy requests in flight (429), and a full mart
  // queue answers 503 `busy` with Retry-After (a 503 without it, an unavailable mart, is not retried).
  const RETRIES = { 429: 5, 503: 3 };
  const MAX_WAIT_S = 10;

  // `onWait(seconds)`, when given, is told before each wait (the caller shows "busy, retrying").
  async function api(method, path, body, onWait) {
    if (!state.key) { openKeyDialog(); throw new Error(t("needKey")); }
    let res;
    for (let attempt = 0; ; attempt++) {
      res = await fetch(path, {
        method,
        headers: { "Authorization": `Bearer ${state.key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const retries = RETRIES[res.status];
      if (retries === undefined || attempt >= retries) break;
      if (res.status === 503 && !res.headers.has("Retry-After")) break;
      const wait = Math.min(MAX_WAIT_S, Math.max(1, Math.ceil(Number(res.headers.get("Retry-After")) || 1)));
      if (onWait) onWait(wait);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) {
      if (res.status === 401) openKeyDialog();
      const msg = data && data.error ? data.error.message : `HTTP ${res.status}`;
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // -- language ----------------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    $("lang-en").setAttribute("aria-pressed", String(state.lang === "en"));
    $("lang-ko").setAttribute("aria-pressed", String(state.lang === "ko"));
    if (state.result) renderResult(state.result, { keepStats: true });
  }
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      state.lang = b.dataset.lang;
      localStorage.setItem("cohort.lang", state.lang);
      applyLanguage();
    });
  }

  // -- key ---------------------------------------------------------------------------------------
  function openKeyDialog() {
    const d = $("key-dialog");
    $("api-key").value = state.key;
    if (!d.open) d.showModal();
  }
  $("key-button").addEventListener("click", openKeyDialog);
  $("key-form").addEventListener("submit", () => {
    state.key = $("api-key").value.trim();
    localStorage.setItem("cohort.apiKey", state.key);
    loadCodesets();
  });

  // -- chat --------------------------------------------------------------------------------------
  function addMessage(role, text, extra) {
    const li = el("li", { class: `msg ${role}`, dataset: { testid: `msg-${role}` } }, el("p", { text }));
    if (extra) li.append(extra);
    $("messages").append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  async function ask(question, { echo = true, answers = null } = {}) {
    state.question = question;
    if (answers === null) { state.original = question; state.answers = []; } else state.answers = answers;
    if (echo) addMessage("user", question);
    const pending = addMessage("assistant", t("thinking"));
    $("ask-button").disabled = true;
    try {
      const body = { question: state.original, overrides: state.overrides };
      if (state.answers.length) body.answers = state.answers;
      const res = await api("POST", "/v1/ask", body, (s) => {
        pending.querySelector("p").textContent = t("busy")(s);
        pending.dataset.busy = "true";
      });
      pending.remove();
      handleResult(res);
    } catch (e) {
      pending.remove();
      addMessage("assistant error", `${t("errorPrefix")}: ${e.message}`).setAttribute("role", "alert");
    } finally {
      $("ask-button").disabled = false;
    }
  }

  // A question back as a way forward: the question with the words in doubt marked, what the rest
  // reads as, and one button per choice; a click re-asks the same question with the choice's answers.
  function followupBox(f) {
    const box = el("div", { class: "followup", dataset: { testid: "followup" } });
    if (f.marked.some((s) => s.mark)) {
      const q = el("p", { class: "small marked", dataset: { testid: "followup-marked" } });
      for (const s of f.marked) {
        q.append(s.mark
          ? el("mark", { class: s.mark, text: s.text, title: t(s.mark === "unread" ? "unreadMark" : "unclearMark"), dataset: { testid: s.mark } })
          : document.createTextNode(s.text));
      }
      box.append(el("p", { class: "small muted", text: t("asked") }), q);
    }
    if (f.partial_readback) {
      box.append(el("p", { class: "small muted", text: t("understood") }),
        el("p", { class: "small partial", text: f.partial_readback, dataset: { testid: "followup-partial" } }));
    }
    if (f.choices.length) {
      const group = el("div", { class: "choices", role: "group", "aria-label": t("waysForward") });
      for (const ch of f.choices) {
        const kind = { drop: "kindDrop", means: "kindMeans", reading: "kindReading", concept: "kindConcept" }[ch.kind];
        group.append(el("button", {
          type: "button", class: `small choice ${ch.kind}${ch.preview && ch.preview !== "ok" ? " partial" : ""}`,
          text: ch.label, title: `${t(kind)}: ${ch.label}`,
          dataset: { testid: "followup-choice", kind: ch.kind, preview: ch.preview || "" },
          onclick: () => continueWith(ch),
        }));
      }
      box.append(el("p", { class: "small muted", text: t("waysForward") }), group);
    }
    return box;
  }

  function continueWith(choice) {
    addMessage("user", choice.label);
    for (const b of document.querySelectorAll("[data-testid=followup-choice]")) b.disabled = true;
    ask(state.original, { echo: false, answers: choice.answers });
  }

  function handleResult(res, note) {
    const text = note ? `${note} ${res.message}` : res.message;
    if (res.status === "clarify" && res.followup) {
      const box = followupBox(res.followup);
      // Questions back that the followup does not cover (no words to point at) keep their old buttons.
      for (const c of res.clarifications.filter((c) => !c.span && c.choices.length)) {
        const choices = el("div", { class: "choices", role: "group" });
        for (const ch of c.choices) {
          choices.append(el("button", {
            type: "button", class: "small choice", text: ch.label, dataset: { testid: "choice" },
            onclick: () => choose(c, ch),
          }));
        }
        box.append(el("p", { class: "small", text: c.question }), choices);
      }
      addMessage("assistant", text || t("choose"), box).dataset.status = res.status;
      const first = box.querySelector("button");
      if (first) first.focus({ preventScroll: true });
    } else if (res.status === "clarify" && res.clarifications.length) {
      const box = el("div", { class: "clarifications" });
      for (const c of res.clarifications) {
        box.append(el("p", { class: "small", text: c.question }));
        if (c.choices.length) {
          const choices = el("div", { class: "choices", role: "group" });
          for (const ch of c.choices) {
            choices.append(el("button", {
              type: "button", class: "small choice", text: ch.label, dataset: { testid: "choice" },
              onclick: () => choose(c, ch),
            }));
          }
          box.append(choices);
        }
      }
      addMessage("assistant", text || t("choose"), box).dataset.status = res.status;
    } else {
      const applied = (res.applied || []).filter((a) => !a.applied);
      const li = addMessage("assistant", text);
      li.dataset.status = res.status;
      if (applied.length) li.append(el("p", { class: "small muted", text: `${t("notApplied")} ${applied.map((a) => a.answer.span || a.answer.term).join(", ")}` }));
    }
    if (res.status === "ok" || (res.spec && res.status !== "refused")) renderResult(res);
  }

  function choose(clarification, choice) {
    if (choice.concept_id !== null && choice.concept_id !== undefined && choice.term) {
      state.overrides = { ...state.overrides, [choice.term]: [choice.concept_id] };
      addMessage("user", choice.label);
      if (state.result && state.result.spec && !state.question) rerun();
      else ask(state.question, { echo: false });
      return;
    }
    const q = $("question");
    const span = clarification.span;
    q.value = span && state.question.includes(span) ? state.question.replace(span, choice.label) : `${state.question} ${choice.label}`;
    q.focus();
    addMessage("assistant", t("editHint"));
  }

  $("ask-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("question").value.trim();
    if (!q) return;
    $("question").value = "";
    state.overrides = {};
    ask(q);
  });
  $("question").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("ask-form").requestSubmit(); }
  });

  // -- result ------------------------------------------------------------------------------------
  function renderResult(res, { keepStats = false } = {}) {
    state.result = res;
    $("result").hidden = false;
    $("count").textContent = res.count_display ?? "–";
    $("count").dataset.value = res.count ?? "";
    $("suppression-note").textContent = res.suppressed ? t("suppressed")(res.k) : "";
    $("readback").textContent = res.readback || "";
    const notes = $("notes");
    notes.replaceChildren(...(res.notes || []).map((n) => el("li", { text: n })));
    renderCriteria(res.spec);
    renderFunnel(res.attrition || []);
    renderImaging(res.imaging, res.k);
    renderCodes(res.resolutions || {});
    $("sql").textContent = res.sql || "";
    renderRelease(res.release);
    $("request-manifest").disabled = !(res.cohort_id && res.status === "ok" && (!res.release || res.release.status === "none"));
    if (!keepStats) {
      for (const id of ["chart-pyramid", "chart-months", "chart-modalities", "chart-bodyparts"]) $(id).replaceChildren();
      if (res.cohort_id && res.status === "ok") loadStats(res.cohort_id);
    } else if (state.stats) {
      renderStats(state.stats);
    }
    // Panels in their own files (table1.js) follow each rendered answer and language switch.
    document.dispatchEvent(new CustomEvent("cohort:result", { detail: res }));
  }

  function renderRelease(release) {
    const s = $("manifest-status");
    if (!release || release.status === "none") s.textContent = "";
    else s.textContent = release.status === "approved" ? t("approved") : t("requested");
  }

  function renderFunnel(rows) {
    const max = Math.max(1, ...rows.map(barValue));
    const items = rows.map((a) => {
      const v = barValue(a);
      const fill = el("div", { class: `fill${a.suppressed ? " suppressed" : ""}` });
      fill.style.width = `${Math.max(0.5, (100 * v) / max)}%`;
      return el("li", { dataset: { testid: "funnel-step", step: a.step } },
        el("span", { class: "step-label", text: stepLabel(a) }),
        el("div", { class: "track", "aria-hidden": "true" }, fill),
        el("span", { class: "step-count", text: a.display, dataset: { testid: "funnel-count" } }));
    });
    $("funnel").replaceChildren(...items);
  }
  // "Their images": per modality, persons / studies / series / images, with a bar of persons.
  function renderImaging(rows, k) {
    const panel = $("imaging-panel");
    panel.hidden = rows === null || rows === undefined;
    if (panel.hidden) { $("imaging").replaceChildren(); return; }
    if (!rows.length) { $("imaging").replaceChildren(el("p", { class: "empty", text: t("noImages") })); return; }
    const max = Math.max(1, k || 1, ...rows.map((r) => cellValue(r.persons)));
    const cell = (c) => (c.suppressed && c.value === null && !c.display.startsWith("<")
      ? el("td", { class: "num hidden", text: t("hiddenCell"), title: t("hiddenHelp")(k) })
      : el("td", { class: `num${c.suppressed ? " hidden" : ""}`, text: c.display }));
    const head = el("tr", {}, ...["modality", "patientsCol", "studies", "series", "instances"].map((h, i) =>
      el("th", { scope: "col", class: i ? "num" : undefined, text: t(h) })));
    const body = rows.map((r) => {
      const fill = el("div", { class: `fill${r.persons.suppressed ? " suppressed" : ""}` });
      fill.style.width = `${Math.max(0.5, (100 * cellValue(r.persons)) / max)}%`;
      return el("tr", { dataset: { testid: "imaging-row", modality: r.modality ?? "" } },
        el("th", { scope: "row", text: r.modality ?? "?" }),
        el("td", { class: "num" }, el("span", { class: "bar", "aria-hidden": "true" }, fill),
          el("span", { text: r.persons.display, dataset: { testid: "imaging-persons" } })),
        cell(r.studies), cell(r.series), cell(r.instances));
    });
    $("imaging").replaceChildren(el("table", { class: "imaging-table" }, el("thead", {}, head), el("tbody", {}, ...body)));
  }

  function barValue(a) {
    if (a.persons !== null && a.persons !== undefined) return a.persons;
    const m = /^(\d+)/.exec(a.display.replace("<", ""));
    return m ? Number(m[1]) / (a.display.startsWith("<") ? 2 : 1) : 0;
  }
  function stepLabel(a) {
    if (a.step === "index") return t("index");
    if (a.step === "demographics") return t("demographics");
    return a.description;
  }

  function renderCodes(resolutions) {
    const dl = el("dl");
    for (const [key, list] of Object.entries(resolutions)) {
      for (const r of list) {
        dl.append(el("dt", { text: `${key === "index" ? t("index") : key}: ${r.term}` }));
        const ul = el("ul");
        for (const m of (r.matches || []).slice(0, 12)) ul.append(el("li", { text: `${(state.lang === "ko" && m.concept_name_ko) || m.concept_name} (${m.vocabulary_id} ${m.concept_code})` }));
        if ((r.matches || []).length > 12) ul.append(el("li", { class: "muted", text: `+${r.matches.length - 12}` }));
        if (!(r.matches || []).length) ul.append(el("li", { class: "muted", text: r.note || r.status }));
        dl.append(el("dd", {}, ul));
      }
    }
    $("codes").replaceChildren(dl);
  }

  // -- editable criteria -------------------------------------------------------------------------
  function domainSelect(value, name) {
    const s = el("select", { name });
    for (const d of DOMAINS) s.append(el("option", { value: d, text: state.lang === "ko" ? DOMAIN_KO[d] : d, selected: d === value }));
    return s;
  }
  function codesetSelect(value, name) {
    const s = el("select", { name });
    s.append(el("option", { value: "", text: t("none") }));
    for (const c of state.codesets) s.append(el("option", { value: c.name, text: c.name, selected: c.name === value }));
    if (value && !state.codesets.some((c) => c.name === value)) s.append(el("option", { value, text: value, selected: true }));
    return s;
  }
  const field = (labelText, input, wide) => el("label", { class: wide ? "wide" : undefined }, labelText, input);
  const numberInput = (name, value) => el("input", { type: "number", name, value: value ?? "", step: "1" });

  function renderCriteria(spec) {
    const box = $("criteria");
    box.replaceChildren();
    $("rerun").disabled = !spec;
    if (!spec) return;
    const idx = spec.index;
    const dr = idx.date_range || {};
    box.append(el("div", { class: "block index", dataset: { testid: "block-index" } },
      el("div", { class: "block-head" }, el("span", { class: "block-title", text: t("index") })),
      el("div", { class: "fields" },
        field(t("domain"), domainSelect(idx.domain, "domain")),
        field(t("terms"), el("input", { name: "terms", value: (idx.concepts.terms || []).join(", ") }), true),
        field(t("codeset"), codesetSelect(idx.concepts.codeset, "codeset")),
        field(t("from"), el("input", { type: "date", name: "start", value: dr.start || "" })),
        field(t("to"), el("input", { type: "date", name: "end", value: dr.end || "" })),
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "first", checked: idx.first_occurrence }), t("firstOnly")))));
    const demo = spec.demographics || {};
    box.append(el("div", { class: "block demo", dataset: { testid: "block-demographics" } },
      el("div", { class: "block-head" }, el("span", { class: "block-title", text: t("demographics") })),
      el("div", { class: "fields" },
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "male", checked: (demo.sexes || []).includes("male") }), t("male")),
        el("label", { class: "check" }, el("input", { type: "checkbox", name: "female", checked: (demo.sexes || []).includes("female") }), t("female")),
        field(t("ageMin"), numberInput("age_min", demo.age_min)),
        field(t("ageMax"), numberInput("age_max", demo.age_max)))));
    spec.criteria.forEach((c, i) => box.append(criterionBlock(c, i, spec)));
  }

  function criterionBlock(c, i, spec) {
    const anchor = el("select", { name: "anchor" });
    anchor.append(el("option", { value: "index", text: t("indexAnchor"), selected: c.window.anchor === "index" }));
    for (const other of spec.criteria.slice(0, i)) anchor.append(el("option", { value: other.label, text: other.label, selected: c.window.anchor === other.label }));
    const occ = el("select", { name: "occ_type" });
    for (const [v, label] of [["at_least", t("atLeast")], ["at_most", t("atMost")], ["exactly", t("exactly")]]) {
      occ.append(el("option", { value: v, text: label, selected: c.occurrence.type === v }));
    }
    const block = el("div", { class: "block criterion", dataset: { testid: "block-criterion", label: c.label } },
      el("div", { class: "block-head" },
        el("span", { class: "block-title", text: `${t("criterion")} ${i + 1}: ${c.label}` }),
        el("button", { type: "button", class: "small danger", text: t("drop"), dataset: { testid: "drop" },
          onclick: () => { block.dataset.dropped = "1"; block.hidden = true; } })),
      el("div", { class: "fields" },
        field(t("label"), el("input", { name: "label", value: c.label })),
        field(t("domain"), domainSelect(c.domain, "domain")),
        field(t("terms"), el("input", { name: "terms", value: (c.concepts.terms || []).join(", ") }), true),
        field(t("codeset"), codesetSelect(c.concepts.codeset, "codeset")),
        field(t("windowStart"), numberInput("wstart", c.window.start)),
        field(t("windowEnd"), numberInput("wend", c.window.end)),
        field(t("anchor"), anchor),
        field(t("occurrence"), occ),
        field(t("count"), el("input", { type: "number", name: "occ_count", min: "0", step: "1", value: c.occurrence.count }))));
    block.dataset.index = String(i);
    return block;
  }

  const val = (root, name) => root.querySelector(`[name="${name}"]`);
  const intOrNull = (v) => (v === "" || v === null || v === undefined ? null : Number.parseInt(v, 10));
  const splitTerms = (s) => s.split(/[,，、]/).map((x) => x.trim()).filter(Boolean);

  function editedSpec() {
    const spec = JSON.parse(JSON.stringify(state.result.spec));
    const box = $("criteria");
    const ib = box.querySelector(".block.index");
    spec.index.domain = val(ib, "domain").value;
    spec.index.concepts.terms = splitTerms(val(ib, "terms").value);
    spec.index.concepts.codeset = val(ib, "codeset").value || null;
    const start = val(ib, "start").value || null;
    const end = val(ib, "end").value || null;
    spec.index.date_range = start || end ? { start, end } : null;
    spec.index.first_occurrence = val(ib, "first").checked;
    const db = box.querySelector(".block.demo");
    spec.demographics = {
      sexes: ["male", "female"].filter((s) => val(db, s).checked),
      age_min: intOrNull(val(db, "age_min").value), age_max: intOrNull(val(db, "age_max").value),
    };
    const criteria = [];
    const renamed = {};
    for (const b of box.querySelectorAll(".block.criterion")) {
      const orig = state.result.spec.criteria[Number(b.dataset.index)];
      if (b.dataset.dropped) { renamed[orig.label] = null; continue; }
      const c = JSON.parse(JSON.stringify(orig));
      c.label = val(b, "label").value.trim() || orig.label;
      renamed[orig.label] = c.label;
      c.domain = val(b, "domain").value;
      c.concepts.terms = splitTerms(val(b, "terms").value);
      c.concepts.codeset = val(b, "codeset").value || null;
      c.window.start = intOrNull(val(b, "wstart").value);
      c.window.end = intOrNull(val(b, "wend").value);
      const anchor = val(b, "anchor").value;
      c.window.anchor = anchor === "index" ? "index" : (renamed[anchor] ?? "index");
      c.occurrence = { type: val(b, "occ_type").value, count: intOrNull(val(b, "occ_count").value) ?? 1 };
      if (c.domain !== "measurement" && c.domain !== "observation") c.value = null;
      if (c.domain !== "imaging") c.imaging = null;
      if (c.domain !== "visit") c.visit_concept_ids = [];
      criteria.push(c);
    }
    spec.criteria = criteria;
    if (spec.index.domain !== "measurement" && spec.index.domain !== "observation") spec.index.value = null;
    if (spec.index.domain !== "imaging") spec.index.imaging = null;
    if (spec.index.domain !== "visit") spec.index.visit_concept_ids = [];
    spec.language = state.lang === "ko" ? "ko" : spec.language;
    return spec;
  }

  async function rerun() {
    if (!state.result || !state.result.spec) return;
    const status = $("rerun-status");
    status.textContent = t("rerunning");
    $("rerun").disabled = true;
    try {
      const spec = editedSpec();
      const res = await api("POST", "/v1/cohorts", { spec, overrides: state.overrides }, (s) => { status.textContent = t("busy")(s); });
      state.question = "";
      status.textContent = "";
      handleResult(res, t("reran"));
    } catch (e) {
      status.textContent = `${t("errorPrefix")}: ${e.message}`;
    } finally {
      $("rerun").disabled = false;
    }
  }
  $("rerun").addEventListener("click", rerun);

  // -- manifest request --------------------------------------------------------------------------
  $("request-manifest").addEventListener("click", async () => {
    const r = state.result;
    if (!r || !r.cohort_id) return;
    $("request-manifest").disabled = true;
    try {
      const res = await api("POST", `/v1/cohorts/${encodeURIComponent(r.cohort_id)}/release-request`);
      state.result.release = res.release;
      renderRelease(res.release);
    } catch (e) {
      $("manifest-status").textContent = `${t("errorPrefix")}: ${e.message}`;
      $("request-manifest").disabled = false;
    }
  });

  // -- charts ------------------------------------------------------------------------------------
  async function loadStats(cohortId) {
    state.stats = null;
    try {
      const stats = await api("GET", `/v1/cohorts/${encodeURIComponent(cohortId)}/stats`);
      if (!state.result || state.result.cohort_id !== cohortId) return;
      state.stats = stats;
      renderStats(stats);
    } catch (e) {
      $("chart-pyramid").replaceChildren(el("p", { class: "empty", text: `${t("errorPrefix")}: ${e.message}` }));
    }
  }

  // Bar length of a count cell; a suppressed "<k" cell is drawn at k/2 (hatched/faded), never as data.
  function cellValue(c) {
    if (c.value !== null && c.value !== undefined) return c.value;
    const m = /(\d+)/.exec(c.display);
    return m ? Number(m[1]) / 2 : 0;
  }
  const scaleMax = (cells, k) => Math.max(1, k || 1, ...cells.map((c) => cellValue(c)));

  function renderStats(s) {
    renderPyramid(s.pyramid);
    renderBars($("chart-months"), s.index_months, { vertical: true });
    renderBars($("chart-modalities"), s.modalities);
    renderBars($("chart-bodyparts"), s.body_parts);
  }

  function renderPyramid(cells) {
    const box = $("chart-pyramid");
    if (!cells.length) { box.replaceChildren(el("p", { class: "empty", text: t("noData") })); return; }
    const bands = [...new Set(cells.map((c) => c.age_band))].sort((a, b) => parseInt(b, 10) - parseInt(a, 10));
    const get = (sex, band) => cells.find((c) => c.sex === sex && c.age_band === band);
    const max = scaleMax(cells.map((c) => c.persons), state.stats && state.stats.k);
    const W = 360, rowH = 20, top = 22, mid = W / 2, labelW = 44, half = mid - labelW / 2 - 36;
    const H = top + bands.length * rowH + 8;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("pyramid") });
    root.append(svg("text", { x: mid - labelW / 2 - 4, y: 12, "text-anchor": "end" }, t("male")));
    root.append(svg("text", { x: mid + labelW / 2 + 4, y: 12 }, t("female")));
    bands.forEach((band, i) => {
      const y = top + i * rowH;
      root.append(svg("text", { x: mid, y: y + 14, "text-anchor": "middle" }, band));
      for (const sex of ["male", "female"]) {
        const c = get(sex, band);
        if (!c) continue;
        const w = (half * cellValue(c.persons)) / max;
        const x = sex === "male" ? mid - labelW / 2 - w : mid + labelW / 2;
        const r = svg("rect", { x, y: y + 2, width: Math.max(1, w), height: rowH - 5, rx: 2,
          fill: sex === "male" ? "#3b78d8" : "#d2557a", opacity: c.persons.suppressed ? 0.45 : 1 });
        r.append(svg("title", {}, `${sex === "male" ? t("male") : t("female")} ${band}: ${c.persons.display}`));
        root.append(r);
        const tx = sex === "male" ? x - 3 : x + Math.max(1, w) + 3;
        root.append(svg("text", { x: tx, y: y + 14, "text-anchor": sex === "male" ? "end" : "start" }, c.persons.display));
      }
      const other = get("other", band);
      if (other) root.append(svg("text", { x: W - 2, y: y + 14, "text-anchor": "end", opacity: 0.7 }, `${t("other")} ${other.persons.display}`));
    });
    box.replaceChildren(root);
  }

  function renderBars(box, items, { vertical = false } = {}) {
    if (!items.length) { box.replaceChildren(el("p", { class: "empty", text: t("noData") })); return; }
    const max = scaleMax(items.map((i) => i.persons), state.stats && state.stats.k);
    let root;
    if (vertical) {
      const W = 360, H = 170, bottom = 36, n = items.length;
      const bw = Math.min(36, Math.max(3, (W - 12) / n - 3));
      const left = (W - n * (bw + 3)) / 2;
      root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
      items.forEach((it, i) => {
        const h = ((H - bottom - 16) * cellValue(it.persons)) / max;
        const x = left + i * (bw + 3);
        const r = svg("rect", { x, y: H - bottom - h, width: bw, height: Math.max(1, h), rx: 2, fill: "#2f8f83",
          opacity: it.persons.suppressed ? 0.45 : 1 });
        r.append(svg("title", {}, `${it.label}: ${it.persons.display}`));
        root.append(r);
        if (n <= 16 || i % Math.ceil(n / 12) === 0) {
          root.append(svg("text", { x: x + bw / 2, y: H - bottom + 12, "text-anchor": "middle", "font-size": "9" }, n <= 6 ? it.label : it.label.slice(2)));
        }
        if (n <= 24) root.append(svg("text", { x: x + bw / 2, y: H - bottom - h - 3, "text-anchor": "middle", "font-size": "9" }, it.persons.display));
      });
    } else {
      const W = 360, rowH = 20, labelW = 92;
      const shown = items.slice(0, 12);
      root = svg("svg", { viewBox: `0 0 ${W} ${shown.length * rowH + 6}`, role: "img" });
      shown.forEach((it, i) => {
        const y = i * rowH + 2;
        const w = ((W - labelW - 60) * cellValue(it.persons)) / max;
        root.append(svg("text", { x: labelW - 6, y: y + 13, "text-anchor": "end" }, it.label));
        const r = svg("rect", { x: labelW, y, width: Math.max(1, w), height: rowH - 5, rx: 2, fill: "#2f8f83",
          opacity: it.persons.suppressed ? 0.45 : 1 });
        r.append(svg("title", {}, `${it.label}: ${it.persons.display} ${t("persons")}`));
        root.append(r);
        root.append(svg("text", { x: labelW + Math.max(1, w) + 4, y: y + 13 }, it.persons.display));
      });
    }
    box.replaceChildren(root);
  }

  // -- code sets ---------------------------------------------------------------------------------
  async function loadCodesets() {
    if (!state.key) return;
    try { state.codesets = await api("GET", "/v1/codesets"); } catch { state.codesets = []; }
    if (state.result) renderCriteria(state.result.spec);
  }

  // -- start -------------------------------------------------------------------------------------
  applyLanguage();
  if (!state.key) openKeyDialog(); else loadCodesets();
  // what the other panels (requests.js, table1.js) build on: the state, the calls, the DOM helpers
  window.cohortUI = { state, ask, rerun, api, el, svg };
})();
