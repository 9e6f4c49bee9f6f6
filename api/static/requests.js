// Release requests in the chat UI: a "request data" form on a stored answer, the steward's review
// queue (the request, the read-back, counts and the disclosure check) and the export client's download
// page. What a key may do comes from the server (`actions` of each request), not from this page.
// Every value from the server or the user is put on the page with textContent (never innerHTML).
"use strict";

(() => {
  const STR = {
    en: {
      requests: "Requests", requestData: "Request data", requestHelp: "Ask the review committee to release this cohort's data, de-identified.",
      purpose: "Purpose", organisation: "Organisation", domains: "Records", images: "Images (de-identified copies)",
      modalities: "Modalities (e.g. CT, MR; empty: all)", windowStart: "From day", windowEnd: "To day",
      windowHelp: "Records from these days relative to each patient's index date.", submit: "Submit request",
      submitted: (id) => `Request ${id} submitted; the review committee decides.`, close: "Close",
      queue: "Release requests", none: "No requests.", open: "Open", refresh: "Refresh",
      status: { submitted: "submitted", changes_requested: "changes requested", approved: "approved", rejected: "rejected" },
      round: "round", approvals: (a, q) => `${a} of ${q} approvals`, reviews: "Reviews", cohort: "Cohort",
      readback: "Read-back", count: "Patients", attrition: "Attrition", disclosure: "Disclosure check",
      disclosureLine: (d) => `k=${d.k}: ${d.persons} patients; ${d.kept} as they are, ${d.age_band_widened} with a wider age band, ${d.index_year_removed} without index year, ${d.withheld} withheld; ${d.released} released.`,
      comment: "Comment (required)", approve: "Approve", reject: "Reject", changes: "Request changes",
      resubmit: "Resubmit", package: "Package", building: (p) => `Building… ${Math.round(p * 100)}%`,
      ready: (b, e) => `${b.toLocaleString()} bytes, available until ${e}`, download: "Download",
      verified: "SHA-256 verified", mismatch: "SHA-256 does not match; download again.",
      pkgStatus: { none: "not built", building: "building", ready: "ready", failed: "failed", expired: "expired", consumed: "downloaded" },
      done: "Done.", window: "Window", days: "days",
      decision: { approve: "approved", reject: "rejected", request_changes: "asked for changes", resubmit: "resubmitted" },
    },
    ko: {
      requests: "반출 요청", requestData: "자료 요청", requestHelp: "이 코호트의 자료를 비식별화하여 반출하도록 심의위원회에 요청합니다.",
      purpose: "목적", organisation: "소속 기관", domains: "임상 자료", images: "영상 (비식별 사본)",
      modalities: "검사 종류 (예: CT, MR; 비우면 전체)", windowStart: "시작일", windowEnd: "종료일",
      windowHelp: "환자별 기준일로부터 이 기간의 자료를 반출합니다.", submit: "요청 제출",
      submitted: (id) => `요청 ${id}이(가) 제출되었습니다. 심의위원회가 결정합니다.`, close: "닫기",
      queue: "반출 요청 목록", none: "요청이 없습니다.", open: "열기", refresh: "새로 고침",
      status: { submitted: "심의 중", changes_requested: "수정 요청됨", approved: "승인됨", rejected: "반려됨" },
      round: "차수", approvals: (a, q) => `승인 ${a}/${q}`, reviews: "심의 기록", cohort: "코호트",
      readback: "조건 확인", count: "환자 수", attrition: "단계별 환자 수", disclosure: "공개 위험 점검",
      disclosureLine: (d) => `k=${d.k}: 환자 ${d.persons}명 중 그대로 ${d.kept}명, 나이 구간 확대 ${d.age_band_widened}명, 기준 연도 삭제 ${d.index_year_removed}명, 제외 ${d.withheld}명; 반출 ${d.released}명.`,
      comment: "의견 (필수)", approve: "승인", reject: "반려", changes: "수정 요청",
      resubmit: "다시 제출", package: "반출 패키지", building: (p) => `만드는 중… ${Math.round(p * 100)}%`,
      ready: (b, e) => `${b.toLocaleString()} 바이트, ${e}까지 받을 수 있음`, download: "내려받기",
      verified: "SHA-256 확인됨", mismatch: "SHA-256이 맞지 않습니다. 다시 받으세요.",
      pkgStatus: { none: "아직 없음", building: "만드는 중", ready: "준비됨", failed: "실패", expired: "만료됨", consumed: "내려받음" },
      done: "완료.", window: "기간", days: "일",
      decision: { approve: "승인", reject: "반려", request_changes: "수정 요청", resubmit: "다시 제출" },
    },
  };
  const DOMAINS = ["conditions", "procedures", "drugs", "measurements", "observations", "visits", "death"];
  const DOMAIN_KO = { conditions: "진단", procedures: "시술/수술", drugs: "약물", measurements: "검사", observations: "관찰", visits: "방문", death: "사망" };

  const ui = () => window.cohortUI;
  const lang = () => (ui() && ui().state.lang === "ko" ? "ko" : "en");
  const t = (name) => STR[lang()][name] ?? STR.en[name];
  const domainName = (d) => (lang() === "ko" ? DOMAIN_KO[d] : d);
  const view = { result: null, list: [], openId: null, poll: null, message: "", lang: null };

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k === "testid") node.dataset.testid = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (v === true) node.setAttribute(k, "");
      else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const api = (method, path, body) => ui().api(method, path, body);
  const $ = (id) => document.getElementById(id);

  // -- the form on a stored answer -------------------------------------------------------------------
  const panel = el("div", { id: "request-panel", class: "panel rq-panel", hidden: true, testid: "request-panel" });

  function renderPanel() {
    const res = view.result;
    panel.hidden = !(res && res.cohort_id && res.status === "ok");
    if (panel.hidden) return;
    const form = el("form", { id: "request-form", class: "rq-form", hidden: !panel.dataset.open });
    form.append(
      el("p", { class: "muted small", text: t("requestHelp") }),
      el("label", { for: "rq-purpose", text: t("purpose") }),
      el("textarea", { id: "rq-purpose", rows: "3", required: true, minlength: "10", maxlength: "4000" }),
      el("label", { for: "rq-org", text: t("organisation") }),
      el("input", { id: "rq-org", required: true, minlength: "2", maxlength: "200" }),
      el("fieldset", {}, el("legend", { text: t("domains") }),
        ...DOMAINS.map((d) => el("label", { class: "rq-check" },
          el("input", { type: "checkbox", name: "rq-domain", value: d, id: `rq-domain-${d}` }), domainName(d)))),
      el("label", { class: "rq-check" }, el("input", { type: "checkbox", id: "rq-images" }), t("images")),
      el("label", { for: "rq-modalities", text: t("modalities") }),
      el("input", { id: "rq-modalities", placeholder: "CT, MR" }),
      el("div", { class: "row" },
        el("label", { for: "rq-start", text: t("windowStart") }), el("input", { id: "rq-start", type: "number", value: "-365" }),
        el("label", { for: "rq-end", text: t("windowEnd") }), el("input", { id: "rq-end", type: "number", value: "365" })),
      el("p", { class: "muted small", text: t("windowHelp") }),
      el("div", { class: "row" }, el("button", { type: "submit", id: "rq-submit", text: t("submit") }),
        el("span", { id: "rq-status", class: "small", role: "status", testid: "rq-status", text: view.message })),
    );
    form.addEventListener("submit", submitRequest);
    panel.replaceChildren(
      el("div", { class: "row" }, el("h3", { text: t("requestData") }),
        el("button", { type: "button", id: "request-data", class: "ghost small", testid: "request-data", text: t("requestData"),
          on: { click: () => { panel.dataset.open = "1"; form.hidden = false; } } })),
      form,
    );
  }

  async function submitRequest(ev) {
    ev.preventDefault();
    const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
    const mods = $("rq-modalities").value.split(",").map((m) => m.trim()).filter(Boolean);
    const body = {
      cohort_id: view.result.cohort_id,
      purpose: $("rq-purpose").value,
      organisation: $("rq-org").value,
      domains: [...document.querySelectorAll("input[name=rq-domain]:checked")].map((c) => c.value),
      images: $("rq-images").checked || mods.length > 0,
      modalities: mods,
      window: { start: num("rq-start"), end: num("rq-end") },
    };
    $("rq-submit").disabled = true;
    try {
      const req = await api("POST", "/v1/requests", body);
      view.message = t("submitted")(req.request_id);
      $("rq-status").textContent = view.message;
      $("rq-status").dataset.requestId = req.request_id;
    } catch (e) {
      $("rq-status").textContent = e.message;
    } finally {
      $("rq-submit").disabled = false;
    }
  }

  // -- the requests page (queue, detail, download) ----------------------------------------------------
  const page = el("section", { id: "requests-view", class: "rq-view", hidden: true, testid: "requests-view" });
  const button = el("button", { type: "button", id: "requests-button", class: "ghost", testid: "requests-button",
    on: { click: () => (page.hidden ? openPage() : closePage()) } });

  async function openPage() {
    page.hidden = false;
    await loadList();
  }
  function closePage() {
    page.hidden = true;
    stopPoll();
  }
  function stopPoll() {
    if (view.poll) clearTimeout(view.poll);
    view.poll = null;
  }

  async function loadList() {
    try { view.list = await api("GET", "/v1/requests"); } catch (e) { view.list = []; view.message = e.message; }
    renderPage();
    if (view.openId) await openRequest(view.openId);
  }

  function badge(status) {
    return el("span", { class: `rq-badge rq-${status}`, testid: "rq-badge", text: t("status")[status] || status });
  }

  function renderPage(detail) {
    const items = view.list.map((r) => el("li", { class: "rq-item", testid: "rq-item", "data-id": r.request_id },
      el("code", { text: r.request_id }), badge(r.status),
      el("span", { class: "muted small", text: `${t("approvals")(r.approvals, r.quorum)} · ${r.domains.map(domainName).join(", ")}${r.images ? " + " + t("images") : ""}` }),
      el("button", { type: "button", class: "small", testid: "rq-open", text: t("open"), on: { click: () => openRequest(r.request_id) } })));
    page.replaceChildren(
      el("div", { class: "row rq-head" }, el("h2", { text: t("queue") }),
        el("button", { type: "button", class: "ghost small", id: "rq-refresh", text: t("refresh"), on: { click: loadList } }),
        el("button", { type: "button", class: "ghost small", id: "rq-close", text: t("close"), on: { click: closePage } })),
      items.length ? el("ul", { class: "rq-list", id: "rq-list" }, ...items) : el("p", { class: "muted", text: t("none") }),
      detail || el("div", { id: "rq-detail" }),
    );
  }

  async function openRequest(id) {
    stopPoll();
    view.openId = id;
    let r;
    try { r = await api("GET", `/v1/requests/${encodeURIComponent(id)}`); } catch (e) { renderPage(el("p", { text: e.message })); return; }
    const box = el("div", { id: "rq-detail", class: "panel rq-detail", testid: "rq-detail", "data-id": r.request_id, "data-status": r.status });
    box.append(
      el("h3", {}, el("code", { text: r.request_id }), " ", badge(r.status)),
      el("p", { class: "muted small", text: `${t("cohort")} ${r.cohort_id} · ${t("round")} ${r.round} · ${t("approvals")(r.approvals, r.quorum)}` }),
    );
    const dl = el("dl", { class: "rq-fields" });
    const field = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
    if (r.purpose !== null) field(t("purpose"), r.purpose);
    if (r.organisation !== null) field(t("organisation"), r.organisation);
    field(t("domains"), r.domains.map(domainName).join(", ") || "–");
    field(t("images"), r.images ? (r.modalities.join(", ") || "✓") : "–");
    field(t("window"), `${r.window.start ?? "…"} … ${r.window.end ?? "…"} ${t("days")}`);
    box.append(dl);
    const reviewer = r.actions.includes("reject");
    if (reviewer) box.append(await reviewContext(r));
    if (r.reviews.length) {
      box.append(el("h4", { text: t("reviews") }), el("ol", { class: "rq-reviews" }, ...r.reviews.map((v) =>
        el("li", { testid: "rq-review" }, el("strong", { text: `${t("round")} ${v.round} · ${t("decision")[v.decision] || v.decision}` }), ` ${v.reviewer}: `, el("span", { text: v.comment })))));
    }
    if (reviewer || r.actions.includes("resubmit")) {
      const acts = el("div", { class: "row" });
      const act = (name, id, label, cls) => acts.append(el("button", { type: "button", id, class: cls || "", testid: id, text: label, on: { click: () => decide(r, name) } }));
      if (r.actions.includes("approve")) act("approve", "rq-approve", t("approve"));
      if (reviewer) {
        act("request_changes", "rq-changes", t("changes"), "ghost");
        act("reject", "rq-reject", t("reject"), "danger");
      }
      if (r.actions.includes("resubmit")) act("resubmit", "rq-resubmit", t("resubmit"));
      box.append(el("label", { for: "rq-comment", text: t("comment") }), el("textarea", { id: "rq-comment", rows: "2", maxlength: "4000" }), acts,
        el("p", { id: "rq-act-status", class: "small", role: "status", testid: "rq-act-status" }));
    }
    box.append(packageBox(r));
    renderPage(box);
    if (r.package.status === "building") view.poll = setTimeout(() => openRequest(r.request_id), 1000);
  }

  async function reviewContext(r) {
    const ctx = el("div", { class: "rq-context", testid: "rq-context" });
    try {
      const c = await api("GET", `/v1/cohorts/${encodeURIComponent(r.cohort_id)}`);
      ctx.append(el("h4", { text: t("readback") }), el("p", { class: "readback", testid: "rq-readback", text: c.readback || "" }),
        el("p", {}, el("strong", { text: `${t("count")}: ` }), el("span", { testid: "rq-count", text: c.count_display ?? String(c.count) })),
        el("h4", { text: t("attrition") }),
        el("ol", { class: "rq-attrition" }, ...(c.attrition || []).map((a) => el("li", { testid: "rq-attrition", text: `${a.description} — ${a.display}` }))));
    } catch (e) { ctx.append(el("p", { text: e.message })); }
    try {
      const d = await api("GET", `/v1/requests/${encodeURIComponent(r.request_id)}/disclosure`);
      ctx.append(el("h4", { text: t("disclosure") }), el("p", { testid: "rq-disclosure", "data-withheld": String(d.withheld), text: t("disclosureLine")(d) }));
    } catch (e) { ctx.append(el("p", { text: e.message })); }
    return ctx;
  }

  async function decide(r, action) {
    const comment = $("rq-comment").value;
    const path = action === "resubmit" ? `/v1/requests/${r.request_id}/resubmit` : `/v1/requests/${r.request_id}/reviews`;
    const body = action === "resubmit" ? { comment } : { decision: action, comment };
    try {
      await api("POST", path, body);
      view.list = await api("GET", "/v1/requests");
      await openRequest(r.request_id);
      $("rq-act-status") && ($("rq-act-status").textContent = t("done"));
    } catch (e) {
      $("rq-act-status").textContent = e.message;
    }
  }

  function packageBox(r) {
    const p = r.package;
    const box = el("div", { class: "rq-package", testid: "rq-package", "data-status": p.status },
      el("h4", { text: t("package") }),
      el("p", { testid: "rq-package-status", text: p.status === "building" ? t("building")(p.progress)
        : p.status === "ready" ? t("ready")(p.bytes, p.expires_at) : t("pkgStatus")[p.status] || p.status }));
    if (p.sha256) box.append(el("p", { class: "small" }, "SHA-256 ", el("code", { testid: "rq-sha256", text: p.sha256 })));
    if (r.actions.includes("download")) {
      box.append(el("div", { class: "row" }, el("button", { type: "button", id: "rq-download", testid: "rq-download", text: t("download"), on: { click: () => download(r) } }),
        el("span", { id: "rq-download-status", class: "small", role: "status", testid: "rq-download-status" })));
    }
    return box;
  }

  async function download(r) {
    const status = $("rq-download-status");
    const res = await fetch(r.package.download, { headers: { Authorization: `Bearer ${ui().state.key}` } });
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try { msg = (await res.json()).error.message; } catch { /* keep the status */ }
      status.textContent = msg;
      return;
    }
    const blob = await res.blob();
    let ok = null;
    if (window.crypto && crypto.subtle) {
      const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      ok = hex === r.package.sha256;
    }
    status.textContent = ok === false ? t("mismatch") : ok ? t("verified") : "";
    status.dataset.verified = String(ok);
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: `${r.request_id}.zip`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  // -- hooks ------------------------------------------------------------------------------------------
  function relabel() {
    view.lang = lang();
    button.textContent = t("requests");
    renderPanel();
    if (!page.hidden) {
      if (view.openId) openRequest(view.openId); else renderPage();
    }
  }
  document.querySelector(".topbar-actions").prepend(button);
  document.querySelector(".layout").before(page);
  $("result").append(panel);
  document.addEventListener("cohort:result", (ev) => {
    // the same answer rendered again (charts, language): keep what is typed in the form
    if (view.result && view.result.cohort_id === ev.detail.cohort_id && view.lang === lang()) return;
    if (!view.result || view.result.cohort_id !== ev.detail.cohort_id) { delete panel.dataset.open; view.message = ""; }
    view.result = ev.detail;
    view.lang = lang();
    renderPanel();
  });
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", relabel);
  relabel();
})();
