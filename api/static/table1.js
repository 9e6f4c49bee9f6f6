// Table 1 panel of the chat UI: a cohort's baseline characteristics (GET /v1/cohorts/{id}/table1), optionally
// beside a second cohort of the same key with standardised mean differences, plus top-N bars and lab box plots.
// Plain JS and SVG, nothing loaded from elsewhere; every server value goes on the page with textContent.
// What the page shows is what the API returned: a suppressed cell ("<k", or a lab row below k) stays as the API
// sent it and is drawn as a faded placeholder, never as a number.
"use strict";

(() => {
  const STRINGS = {
    en: {
      button: "Table 1", title: "Table 1 — baseline characteristics", close: "Close",
      compare: "Compare with", noCompare: "(no second cohort)", loading: "Loading…",
      characteristic: "Characteristic", smd: "SMD", cohortA: "This cohort", cohortB: "Compared cohort",
      window: (s, e) => `Conditions, procedures, drugs and labs from day ${s} to day ${e} relative to the index date.`,
      noisy: (k) => `Counts are noisy; cells below ${k} show as “<${k}”; lab statistics only for rows of at least ${k} patients.`,
      exact: "Exact counts (your role sees them).",
      smdHelp: "|SMD| > 0.1 is the usual flag of imbalance.",
      hidden: "hidden", hiddenHelp: (k) => `Hidden: fewer than ${k} patients.`,
      persons: "patients",
      sections: {
        age: "Age", age_band: "Age band", sex: "Sex", condition: "Conditions", procedure: "Procedures",
        drug: "Drugs", lab: "Labs, median (IQR)", death: "Deaths", imaging: "Imaging by modality",
      },
      ageMean: "Age at index, mean (SD)", ageMeanBands: "Age at index, mean (SD), from the age bands",
      male: "Male", female: "Female", other: "Other",
      died: (d) => `Died within ${d} days after index`,
      charts: "Charts", topBars: (s) => `Top ${s} (% of patients)`, boxes: "Labs: median and IQR",
      noData: "No data.",
    },
    ko: {
      button: "특성표", title: "특성표 — 기준 특성", close: "닫기",
      compare: "비교할 코호트", noCompare: "(비교 안 함)", loading: "불러오는 중…",
      characteristic: "특성", smd: "SMD", cohortA: "이 코호트", cohortB: "비교 코호트",
      window: (s, e) => `진단·시술·약물·검사는 기준일 기준 ${s}일부터 ${e}일까지입니다.`,
      noisy: (k) => `환자 수에는 잡음이 더해져 있고, ${k}명 미만은 “<${k}”로 표시하며, 검사 통계는 ${k}명 이상인 행만 보입니다.`,
      exact: "정확한 수입니다 (이 권한에서 보이는 값).",
      smdHelp: "|SMD| > 0.1이면 보통 불균형으로 봅니다.",
      hidden: "비공개", hiddenHelp: (k) => `비공개: 환자가 ${k}명 미만입니다.`,
      persons: "명",
      sections: {
        age: "나이", age_band: "나이대", sex: "성별", condition: "진단", procedure: "시술·수술",
        drug: "약물", lab: "검사, 중앙값 (IQR)", death: "사망", imaging: "영상 검사 종류",
      },
      ageMean: "기준일 나이, 평균 (표준편차)", ageMeanBands: "기준일 나이, 평균 (표준편차), 나이대에서 계산",
      male: "남성", female: "여성", other: "기타",
      died: (d) => `기준일 후 ${d}일 이내 사망`,
      charts: "차트", topBars: (s) => `${s} 상위 항목 (환자 비율 %)`, boxes: "검사: 중앙값과 IQR",
      noData: "자료 없음",
    },
  };
  const SECTION_ORDER = ["age", "age_band", "sex", "condition", "procedure", "drug", "lab", "death", "imaging"];
  const COLORS = ["#2f8f83", "#b0672a"];
  const TOP_N = 8;

  const $ = (id) => document.getElementById(id);
  const ui = () => window.cohortUI;
  const lang = () => (ui() && ui().state.lang === "ko" ? "ko" : "en");
  const t = (name) => STRINGS[lang()][name] ?? STRINGS.en[name];
  const panelState = { cohortId: null, compareId: "", data: null, open: false, seq: 0 };

  // the chat page's own DOM helpers (app.js loads first and shares them)
  const { el, svg } = window.cohortUI;

  // -- labels ------------------------------------------------------------------------------------
  function rowLabel(row) {
    if (row.section === "age") return row.label.endsWith("age bands") ? t("ageMeanBands") : t("ageMean");
    if (row.section === "sex") return t(row.label) || row.label;
    if (row.section === "death") {
      const m = /(\d+)/.exec(row.label);
      return m ? t("died")(Number(m[1])) : row.label;
    }
    if (row.section === "lab" && row.unit) return `${row.label} (${row.unit})`;
    return row.label;
  }
  const fmtPct = (p) => (p === null || p === undefined ? "" : ` (${p.toFixed(1)}%)`);
  const fmtSmd = (x) => (x === null || x === undefined ? "" : x.toFixed(2));

  // The text of one cohort's cell, exactly from the API: "n (p%)", "<k", a lab's "n · median (IQR)".
  function cellText(row, cell) {
    if (row.section === "age") return cell.value ?? "–";
    const c = cell.persons;
    if (!c) return "–";
    const count = c.value === null || c.value === undefined ? c.display : `${c.display}${fmtPct(cell.percent)}`;
    if (row.section === "lab") return cell.value ? `${count} · ${cell.value}` : count;
    return count;
  }
  const isSuppressed = (cell) => Boolean(cell.persons && cell.persons.suppressed);

  // -- panel -------------------------------------------------------------------------------------
  function panel() {
    let p = $("table1-panel");
    if (p) return p;
    p = el("section", { id: "table1-panel", class: "panel table1", hidden: true, "aria-labelledby": "table1-title",
      dataset: { testid: "table1-panel" } });
    const anchor = document.querySelector("#result .result-head");
    if (anchor) anchor.after(p); else $("result").prepend(p);
    return p;
  }

  function syncButton() {
    const b = $("table1-button");
    if (!b) return;
    b.textContent = t("button");
    const r = ui() && ui().state.result;
    b.disabled = !(r && r.cohort_id && r.status === "ok");
  }

  async function open() {
    const r = ui().state.result;
    if (!r || !r.cohort_id) return;
    if (panelState.cohortId !== r.cohort_id) { panelState.cohortId = r.cohort_id; panelState.compareId = ""; panelState.data = null; }
    panelState.open = true;
    panel().hidden = false;
    await load();
    panel().scrollIntoView({ block: "start" });
  }
  function close() {
    panelState.open = false;
    panel().hidden = true;
  }

  async function load() {
    const seq = ++panelState.seq;
    const p = panel();
    renderShell(p, null);
    const path = `/v1/cohorts/${encodeURIComponent(panelState.cohortId)}/table1`
      + (panelState.compareId ? `?compare=${encodeURIComponent(panelState.compareId)}` : "");
    try {
      const [data, cohorts] = await Promise.all([ui().api("GET", path), ui().api("GET", "/v1/cohorts?limit=100")]);
      if (seq !== panelState.seq) return;
      panelState.data = data;
      panelState.cohorts = cohorts.filter((c) => c.status === "ok" && c.cohort_id !== panelState.cohortId);
      render();
    } catch (e) {
      if (seq !== panelState.seq) return;
      panelState.data = null;
      p.querySelector(".table1-body").replaceChildren(el("p", { class: "empty", role: "alert", text: e.message }));
    }
  }

  function renderShell(p, data) {
    const select = el("select", { id: "table1-compare", dataset: { testid: "table1-compare" },
      onchange: (ev) => { panelState.compareId = ev.target.value; load(); } });
    select.append(el("option", { value: "", text: t("noCompare") }));
    for (const c of panelState.cohorts || []) {
      const title = c.title ? (c.title.length > 70 ? `${c.title.slice(0, 69)}…` : c.title) : c.cohort_id;
      select.append(el("option", { value: c.cohort_id, text: `${title} — ${c.count_display ?? "?"} ${t("persons")}`,
        selected: c.cohort_id === panelState.compareId }));
    }
    p.replaceChildren(
      el("div", { class: "table1-head" },
        el("h3", { id: "table1-title", text: t("title") }),
        el("button", { type: "button", class: "small ghost", text: t("close"), dataset: { testid: "table1-close" }, onclick: close })),
      el("label", { class: "table1-compare" }, t("compare"), select),
      el("div", { class: "table1-body" }, data ? null : el("p", { class: "muted small", text: t("loading") })));
  }

  function render() {
    const p = panel();
    const data = panelState.data;
    renderShell(p, data);
    if (!data) return;
    const two = data.cohort_ids.length === 2;
    const k = data.k;
    const head = el("tr", {},
      el("th", { scope: "col", text: t("characteristic") }),
      ...data.totals.map((tot, i) => el("th", { scope: "col", class: "num", dataset: { testid: "table1-total" } },
        el("span", { class: "swatch", style: `background:${COLORS[i]}` }),
        `${i ? t("cohortB") : t("cohortA")} (n = ${tot.display})`)),
      two ? el("th", { scope: "col", class: "num", text: t("smd"), title: t("smdHelp") }) : null);
    const body = [];
    for (const section of SECTION_ORDER) {
      const rows = data.rows.filter((r) => r.section === section);
      if (!rows.length) continue;
      if (section !== "age_band") {
        body.push(el("tr", { class: "section" },
          el("th", { scope: "rowgroup", colspan: String(data.totals.length + 1 + (two ? 1 : 0)), text: t("sections")[section] })));
      }
      for (const row of rows) {
        const cells = row.cells.map((cell) => {
          const hiddenLab = row.section === "lab" && !cell.value && cell.persons && cell.persons.value !== null;
          const suppressed = isSuppressed(cell);
          return el("td", {
            class: `num${suppressed ? " suppressed" : ""}`,
            title: suppressed ? t("hiddenHelp")(k) : (hiddenLab ? t("hiddenHelp")(k) : undefined),
            dataset: { testid: "table1-cell" },
            text: cellText(row, cell),
          });
        });
        const smd = two ? el("td", { class: `num smd${row.smd !== null && Math.abs(row.smd) > 0.1 ? " flag" : ""}`,
          dataset: { testid: "table1-smd" }, text: fmtSmd(row.smd) }) : null;
        const label = el("th", { scope: "row", class: row.section === "age_band" ? "indent" : undefined },
          rowLabel(row), row.code ? el("span", { class: "code muted", text: ` ${row.code}` }) : null);
        body.push(el("tr", { dataset: { testid: "table1-row", section: row.section, label: row.label } }, label, ...cells, smd));
      }
    }
    const notes = el("ul", { class: "notes muted small" },
      el("li", { text: t("window")(data.window[0], data.window[1]) }),
      el("li", { text: data.counts === "noisy" ? t("noisy")(k) : t("exact") }),
      two ? el("li", { text: t("smdHelp") }) : null,
      ...(data.notes || []).map((n) => el("li", { text: n })));
    p.querySelector(".table1-body").replaceChildren(
      el("div", { class: "table1-scroll" }, el("table", { class: "table1-table", dataset: { testid: "table1-table" } },
        el("thead", {}, head), el("tbody", {}, ...body))),
      notes,
      el("div", { class: "table1-charts" },
        ...["condition", "procedure", "drug"].map((s) => chartFigure(s, t("topBars")(t("sections")[s]), topBars(data, s))),
        chartFigure("lab", t("boxes"), labBoxes(data))));
  }

  function chartFigure(name, caption, body) {
    return el("figure", { class: "chart table1-chart", dataset: { testid: `table1-chart-${name}` } },
      el("figcaption", { text: caption }), el("div", { class: "chart-body" }, body));
  }

  // -- charts ------------------------------------------------------------------------------------
  // Bar length: the shown percentage; a suppressed "<k" cell is drawn faded at half of k's share, never as data.
  function barShare(cell, total, k) {
    if (cell.percent !== null && cell.percent !== undefined) return { v: cell.percent, faded: false };
    const tot = total.value || 0;
    if (!cell.persons || !tot) return { v: 0, faded: true };
    return { v: Math.min(100, (100 * (k / 2)) / tot), faded: true };
  }

  function topBars(data, section) {
    const rows = data.rows.filter((r) => r.section === section).slice(0, TOP_N);
    if (!rows.length) return el("p", { class: "empty", text: t("noData") });
    const n = data.totals.length;
    const W = 420, labelW = 150, barH = 9, gap = 6, rowH = n * barH + gap + 2;
    const shares = rows.map((r) => r.cells.map((c, i) => barShare(c, data.totals[i], data.k)));
    const max = Math.max(1, ...shares.flat().map((s) => s.v));
    const root = svg("svg", { viewBox: `0 0 ${W} ${rows.length * rowH + 4}`, role: "img", "aria-label": t("topBars")(t("sections")[section]) });
    rows.forEach((row, ri) => {
      const y = ri * rowH + 2;
      const name = row.label.length > 26 ? `${row.label.slice(0, 25)}…` : row.label;
      const label = svg("text", { x: labelW - 6, y: y + n * barH - 1, "text-anchor": "end" }, name);
      label.append(svg("title", {}, row.label));
      root.append(label);
      row.cells.forEach((cell, i) => {
        const s = shares[ri][i];
        const w = ((W - labelW - 70) * s.v) / max;
        const r = svg("rect", { x: labelW, y: y + i * barH, width: Math.max(1, w), height: barH - 1, rx: 2,
          fill: COLORS[i], opacity: s.faded ? 0.35 : 1 });
        r.append(svg("title", {}, `${row.label}: ${cellText(row, cell)}`));
        root.append(r);
        root.append(svg("text", { x: labelW + Math.max(1, w) + 4, y: y + i * barH + barH - 1, "font-size": "9" },
          cell.persons ? cell.persons.display : "–"));
      });
    });
    return root;
  }

  // "median (q1–q3)" as the API writes it → numbers, or null (a row hidden below k has no value).
  function parseLab(value) {
    const m = /^(-?[\d.e+-]+) \((-?[\d.e+-]+)–(-?[\d.e+-]+)\)$/.exec(value || "");
    return m ? { med: Number(m[1]), q1: Number(m[2]), q3: Number(m[3]) } : null;
  }

  function labBoxes(data) {
    const rows = data.rows.filter((r) => r.section === "lab");
    if (!rows.length) return el("p", { class: "empty", text: t("noData") });
    const n = data.totals.length;
    const W = 420, labelW = 150, boxH = 10, rowH = n * (boxH + 3) + 12;
    const root = svg("svg", { viewBox: `0 0 ${W} ${rows.length * rowH + 4}`, role: "img", "aria-label": t("boxes") });
    rows.forEach((row, ri) => {
      const y = ri * rowH + 2;
      const stats = row.cells.map((c) => parseLab(c.value));
      const name = row.label.length > 24 ? `${row.label.slice(0, 23)}…` : row.label;
      const label = svg("text", { x: labelW - 6, y: y + 11, "text-anchor": "end" }, name);
      label.append(svg("title", {}, rowLabel(row)));
      root.append(label);
      const known = stats.filter(Boolean);
      // each lab on its own axis (units differ): from the lowest q1 to the highest q3 of the cohorts shown
      const lo = Math.min(...known.map((s) => s.q1)), hi = Math.max(...known.map((s) => s.q3));
      const span = hi - lo || Math.abs(hi) || 1;
      const x0 = labelW + 8, x1 = W - 46;
      const sx = (v) => x0 + ((v - (lo - span * 0.1)) / (span * 1.2)) * (x1 - x0);
      stats.forEach((s, i) => {
        const yy = y + i * (boxH + 3);
        if (!s) {
          root.append(svg("text", { x: x0, y: yy + boxH - 1, "font-size": "9", opacity: 0.7 }, t("hidden")));
          return;
        }
        root.append(svg("line", { x1: x0, x2: x1, y1: yy + boxH / 2, y2: yy + boxH / 2, stroke: "#dde1e8" }));
        const box = svg("rect", { x: sx(s.q1), y: yy, width: Math.max(2, sx(s.q3) - sx(s.q1)), height: boxH, rx: 2,
          fill: COLORS[i], "fill-opacity": 0.35, stroke: COLORS[i] });
        box.append(svg("title", {}, `${rowLabel(row)}: ${row.cells[i].value}`));
        root.append(box);
        root.append(svg("line", { x1: sx(s.med), x2: sx(s.med), y1: yy - 1, y2: yy + boxH + 1, stroke: COLORS[i], "stroke-width": 2 }));
        root.append(svg("text", { x: x1 + 4, y: yy + boxH - 1, "font-size": "9" }, String(s.med)));
      });
    });
    return root;
  }

  // -- hooks -------------------------------------------------------------------------------------
  // app.js announces every rendered answer (and every language switch) with a "cohort:result" event.
  document.addEventListener("cohort:result", () => {
    syncButton();
    const r = ui() && ui().state.result;
    if (panelState.open && (!r || r.cohort_id !== panelState.cohortId)) close();
    else if (panelState.open) {
      if (panelState.data) render(); else renderShell(panel(), null);
    }
  });
  const button = $("table1-button");
  if (button) button.addEventListener("click", open);
  syncButton();
})();
