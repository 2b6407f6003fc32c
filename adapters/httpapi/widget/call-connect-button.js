/*
 * <call-connect-button lead="…" token="…" [api="https://…"] [lang="en"]>
 *
 * The Ligar button of Call Connect, to embed in a CRM's lead pages. The
 * CRM's backend mints a widget token for the user looking at the page
 * (POST /v1/environments/{env}/widget-tokens) and puts it in the token
 * attribute; the element asks Call Connect whether the button is shown and
 * enabled for that user on the lead, and shows it so: hidden, disabled
 * with the reason, or enabled. A click places the call and shows its
 * progress live (queued, delivered, then the result).
 *
 * No dependency, no build step. Styles live in a shadow root and can be
 * changed with CSS custom properties on the element: --ccb-bg, --ccb-fg,
 * --ccb-bg-hover, --ccb-disabled-bg, --ccb-disabled-fg, --ccb-focus,
 * --ccb-radius, --ccb-padding, --ccb-font, --ccb-font-size, --ccb-gap,
 * --ccb-status-fg, --ccb-ok, --ccb-error. The element's state is also on
 * the host, for the page's own CSS and scripts: data-state (loading,
 * hidden, disabled, enabled, calling, error), data-reason, data-call-status
 * and data-call-id, and a "ccb-change" event on each change.
 *
 * A call is followed on the environment's events stream (EventSource, the
 * token as ?token=); where there is none, by reading the call every second.
 * data-follow says which (stream or poll). A token lasts at most 15
 * minutes: set a fresh one on the token attribute to go on.
 */
(() => {
  "use strict";
  if (!window.customElements || customElements.get("call-connect-button")) {
    return;
  }
  // The service this script came from: the default of the api attribute.
  const scriptOrigin = (() => {
    try {
      return new URL(document.currentScript.src).origin;
    } catch (e) {
      return location.origin;
    }
  })();

  const text = {
    pt: {
      call: "Ligar",
      loading: "Verificando…",
      reasons: {
        not_owner: "Não é dono do lead",
        integration_inactive: "Integração inativa",
        missing_phone: "Sem telefone cadastrado",
        missing_extension: "Sem ramal cadastrado",
      },
      disabledBecause: "Ligar indisponível: ",
      status: {
        placing: "Ligando…",
        queued: "Ligação na fila",
        delivering: "Ligação na fila",
        delivered: "Ligação entregue",
        completed: "Ligação realizada",
        not_completed: "Ligação não realizada",
        no_result: "Ligação sem retorno",
        undeliverable: "Ligação não entregue",
      },
      motives: {
        no_answer: "não atendida",
        busy: "ocupado",
        not_completed: "não completada",
        invalid_number: "número inválido",
        cancelled: "cancelada",
        other: "outro motivo",
        partner_refused: "o parceiro recusou",
        deadline_exceeded: "prazo de entrega esgotado",
        integration_inactive: "integração inativa",
      },
      expired: "A sessão do botão expirou: recarregue a página",
      failed: "Não foi possível falar com o Call Connect",
      inProgress: "Já há uma ligação em andamento",
    },
    en: {
      call: "Call",
      loading: "Checking…",
      reasons: {
        not_owner: "Not an owner of the lead",
        integration_inactive: "Integration inactive",
        missing_phone: "No phone on file",
        missing_extension: "No extension on file",
      },
      disabledBecause: "Call unavailable: ",
      status: {
        placing: "Calling…",
        queued: "Call queued",
        delivering: "Call queued",
        delivered: "Call delivered",
        completed: "Call completed",
        not_completed: "Call not completed",
        no_result: "No result",
        undeliverable: "Call undeliverable",
      },
      motives: {
        no_answer: "no answer",
        busy: "busy",
        not_completed: "not completed",
        invalid_number: "invalid number",
        cancelled: "cancelled",
        other: "other reason",
        partner_refused: "the partner refused it",
        deadline_exceeded: "delivery deadline passed",
        integration_inactive: "integration inactive",
      },
      expired: "The button's session expired: reload the page",
      failed: "Could not reach Call Connect",
      inProgress: "A call is already in progress",
    },
  };

  // A call is over in these statuses; the button may be pressed again.
  const final = new Set(["completed", "not_completed", "no_result", "undeliverable"]);
  const ok = new Set(["queued", "delivering", "delivered", "completed"]);
  const order = ["placing", "queued", "delivering", "delivered"];
  const rank = (status) => (final.has(status) ? order.length : order.indexOf(status));
  // The events of the feed that move a call, and the status each means.
  const callEvents = {
    "call.queued": "queued",
    "call.delivered": "delivered",
    "call.undeliverable": "undeliverable",
    "call.completed": "completed",
    "call.not_completed": "not_completed",
    "call.no_result": "no_result",
  };

  const style = `
:host { display: inline-flex; align-items: center; flex-wrap: wrap; gap: var(--ccb-gap, .5em);
  font: var(--ccb-font, inherit); font-size: var(--ccb-font-size, inherit); }
:host([hidden]) { display: none; }
button { font: inherit; cursor: pointer; border: 0; border-radius: var(--ccb-radius, 6px);
  padding: var(--ccb-padding, .45em 1em); background: var(--ccb-bg, #0b6e3b); color: var(--ccb-fg, #fff);
  display: inline-flex; align-items: center; gap: .4em; line-height: 1.2; }
button:hover { background: var(--ccb-bg-hover, #095a30); }
button:focus-visible { outline: 3px solid var(--ccb-focus, #1d4ed8); outline-offset: 2px; }
button[aria-disabled="true"] { cursor: not-allowed; background: var(--ccb-disabled-bg, #e5e7eb);
  color: var(--ccb-disabled-fg, #374151); }
svg { width: 1em; height: 1em; fill: currentColor; }
.reason { color: var(--ccb-disabled-fg, #374151); }
.reason:empty, .status:empty { display: none; }
.status { color: var(--ccb-status-fg, inherit); }
.status[data-tone="ok"] { color: var(--ccb-ok, #0b6e3b); }
.status[data-tone="error"] { color: var(--ccb-error, #b91c1c); }`;

  const phone = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/></svg>';

  // The events stream, one per page for each token however many buttons
  // follow it: opened at the first press, closed when no call is followed.
  // It resumes after the last event it got (kept for the browser's session),
  // so that a new stream does not read the feed again from its start.
  const streams = new Map();
  const remember = {
    get(key) {
      try {
        return sessionStorage.getItem(key) || "";
      } catch (e) {
        return "";
      }
    },
    set(key, id) {
      try {
        sessionStorage.setItem(key, id);
      } catch (e) {
        /* no storage: the next stream starts from the feed's start */
      }
    },
  };

  function subscribe(url, token, sub) {
    const key = `ccb-last-event:${url}`;
    let shared = streams.get(url + token);
    if (!shared) {
      const after = remember.get(key);
      const source = new EventSource(`${url}?token=${encodeURIComponent(token)}${after ? `&after=${encodeURIComponent(after)}` : ""}`);
      shared = { source, subs: new Set(), opened: false };
      streams.set(url + token, shared);
      const s = shared;
      source.onopen = () => {
        s.opened = true;
        s.subs.forEach((x) => x.open());
      };
      source.onerror = () => {
        // One that never opened is given up; an open one reconnects by
        // itself, after the last event it got (Last-Event-ID).
        if (!s.opened || source.readyState === EventSource.CLOSED) {
          source.close();
          streams.delete(url + token);
          const subs = [...s.subs];
          s.subs.clear();
          subs.forEach((x) => x.fail());
        }
      };
      for (const [type, status] of Object.entries(callEvents)) {
        source.addEventListener(type, (ev) => {
          if (ev.lastEventId) {
            remember.set(key, ev.lastEventId);
          }
          let data = {};
          try {
            data = JSON.parse(ev.data) || {};
          } catch (e) {
            return;
          }
          const d = data.data && typeof data.data === "object" ? data.data : data;
          s.subs.forEach((x) => x.event(status, d));
        });
      }
    }
    shared.subs.add(sub);
    if (shared.opened) {
      sub.open();
    }
    const s = shared;
    return () => {
      s.subs.delete(sub);
      if (s.subs.size === 0 && streams.get(url + token) === s) {
        s.source.close();
        streams.delete(url + token);
      }
    };
  }

  let ids = 0;

  class CallConnectButton extends HTMLElement {
    static get observedAttributes() {
      return ["lead", "token", "api", "lang"];
    }

    constructor() {
      super();
      const n = ++ids;
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = `<style>${style}</style><button type="button" part="button" aria-describedby="ccb-reason-${n}">` +
        `${phone}<span class="label" part="label"></span></button>` +
        `<span class="reason" part="reason" id="ccb-reason-${n}"></span>` +
        `<span class="status" part="status" role="status" aria-live="polite"></span>`;
      this.button = root.querySelector("button");
      this.label = root.querySelector(".label");
      this.reason = root.querySelector(".reason");
      this.status = root.querySelector(".status");
      this.button.addEventListener("click", () => this.press());
      this.generation = 0;
    }

    connectedCallback() {
      this.load();
    }

    disconnectedCallback() {
      this.stopWatching();
      this.generation++;
    }

    attributeChangedCallback(name, before, after) {
      if (!this.isConnected || before === after) {
        return;
      }
      if (name === "lang") {
        this.render();
      } else if (name === "token" && this.callId && !final.has(this.callStatus)) {
        this.watch(this.callId); // a fresh token: go on following the call
      } else {
        this.load();
      }
    }

    get t() {
      const lang = (this.getAttribute("lang") || "").toLowerCase();
      return lang.startsWith("en") ? text.en : text.pt;
    }

    get api() {
      return (this.getAttribute("api") || scriptOrigin).replace(/\/+$/, "");
    }

    // The environment and user the token is for: its readable middle part.
    get claims() {
      try {
        const part = (this.getAttribute("token") || "").split(".")[1];
        const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
        const c = JSON.parse(decodeURIComponent(escape(json)));
        return c && c.env && c.sub ? c : null;
      } catch (e) {
        return null;
      }
    }

    url(path) {
      return `${this.api}/v1/environments/${encodeURIComponent(this.claims.env)}${path}`;
    }

    async request(method, path, body) {
      const init = {
        method,
        headers: { Authorization: `Bearer ${this.getAttribute("token")}`, Accept: "application/json" },
        credentials: "omit",
      };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const res = await fetch(this.url(path), init);
      let data = null;
      try {
        data = await res.json();
      } catch (e) {
        data = null;
      }
      return { status: res.status, data: data || {} };
    }

    // load asks whether the button is shown and enabled for the token's
    // user on the lead.
    async load() {
      const gen = ++this.generation;
      this.stopWatching();
      this.callId = "";
      this.callStatus = "";
      this.callReason = "";
      this.failure = "";
      this.decision = null;
      this.state = "loading";
      this.render();
      const claims = this.claims;
      const lead = this.getAttribute("lead");
      if (!claims || !lead) {
        this.failure = "expired";
        this.state = "error";
        this.render();
        return;
      }
      try {
        const path = `/leads/${encodeURIComponent(lead)}/call-button?user_id=${encodeURIComponent(claims.sub)}`;
        const res = await this.request("GET", path);
        if (gen !== this.generation) {
          return;
        }
        if (res.status === 200) {
          this.decision = res.data;
          this.state = !res.data.visible ? "hidden" : res.data.enabled ? "enabled" : "disabled";
        } else if (res.status === 404) {
          this.state = "hidden"; // no such lead (or environment): no button
        } else {
          this.failure = res.status === 401 ? "expired" : "failed";
          this.state = "error";
        }
      } catch (e) {
        if (gen !== this.generation) {
          return;
        }
        this.failure = "failed";
        this.state = "error";
      }
      this.render();
    }

    // press places the call, when the button is enabled.
    async press() {
      if (this.state !== "enabled") {
        return;
      }
      const gen = this.generation;
      this.state = "calling";
      this.callId = "";
      this.callStatus = "placing";
      this.callReason = "";
      this.render();
      let res;
      try {
        res = await this.request("POST", `/leads/${encodeURIComponent(this.getAttribute("lead"))}/calls`, {
          user_id: this.claims.sub,
        });
      } catch (e) {
        res = null;
      }
      if (gen !== this.generation) {
        return;
      }
      if (res && res.status === 202 && res.data.id) {
        this.follow(res.data);
        this.watch(res.data.id);
        return;
      }
      const code = res && res.data ? res.data.code : "";
      if (code === "call_in_progress" && res.data.call_id) {
        this.failure = "inProgress";
        this.follow({ id: res.data.call_id, status: "queued" });
        this.watch(res.data.call_id);
        return;
      }
      if (code && this.t.reasons[code]) {
        // The decision changed since it was shown: show the new one.
        this.decision = { visible: true, enabled: false, reason: code };
        this.state = "disabled";
        this.callStatus = "";
      } else {
        this.failure = res && res.status === 401 ? "expired" : "failed";
        this.state = "error";
        this.callStatus = "";
      }
      this.render();
    }

    // follow takes a call's state as the API or the feed tells it.
    follow(call) {
      if (!call || (this.callId && call.id && call.id !== this.callId)) {
        return;
      }
      this.callId = call.id || this.callId;
      // Reads and events may cross: a status never goes back.
      if (call.status && rank(call.status) >= rank(this.callStatus)) {
        this.callStatus = call.status;
        this.callReason = call.reason || "";
      }
      if (final.has(this.callStatus)) {
        this.stopWatching();
        this.state = "enabled";
        if (this.decision && !this.decision.enabled) {
          this.state = "disabled";
        }
      }
      this.render();
    }

    // watch follows a call until it is over: from the events stream, and
    // by reading the call when there is no stream to follow.
    watch(callId) {
      this.stopWatching();
      const gen = this.generation;
      const read = async () => {
        try {
          const res = await this.request("GET", `/calls/${encodeURIComponent(callId)}`);
          if (gen !== this.generation) {
            return;
          }
          if (res.status === 200) {
            this.follow(res.data);
          } else if (res.status === 401) {
            this.failure = "expired";
            this.render();
          }
        } catch (e) {
          /* a blip: the next read or event will tell */
        }
      };
      let polling = null;
      const poll = () => {
        if (polling || final.has(this.callStatus)) {
          return;
        }
        polling = setInterval(() => {
          if (final.has(this.callStatus) || gen !== this.generation) {
            clearInterval(polling);
            return;
          }
          read();
        }, 1000);
      };
      let unsubscribe = null;
      this.stopWatching = () => {
        if (unsubscribe) {
          unsubscribe();
          unsubscribe = null;
        }
        if (polling) {
          clearInterval(polling);
          polling = null;
        }
        this.stopWatching = () => {};
      };
      if (typeof EventSource !== "function") {
        this.dataset.follow = "poll";
        poll();
        return;
      }
      unsubscribe = subscribe(this.url("/events"), this.getAttribute("token"), {
        open: () => {
          this.dataset.follow = "stream";
          read(); // what happened before the stream opened
        },
        fail: () => {
          // No stream to follow (no feed here, or the token refused):
          // reading the call will do.
          unsubscribe = null;
          this.dataset.follow = "poll";
          poll();
        },
        event: (status, d) => {
          if ((d.call_id || d.id) === callId) {
            this.follow({ id: callId, status, reason: d.reason });
          }
        },
      });
    }

    stopWatching() {}

    render() {
      const t = this.t;
      const state = this.state || "loading";
      this.hidden = state === "hidden";
      this.label.textContent = t.call;
      const unavailable = state !== "enabled";
      this.button.setAttribute("aria-disabled", unavailable ? "true" : "false");
      if (state === "loading" || state === "calling") {
        this.button.setAttribute("aria-busy", "true");
      } else {
        this.button.removeAttribute("aria-busy");
      }
      let reason = "";
      if (state === "disabled" && this.decision) {
        reason = t.reasons[this.decision.reason] || this.decision.reason || "";
      } else if (state === "loading") {
        reason = t.loading;
      } else if (this.failure && state === "error") {
        reason = t[this.failure];
      }
      this.reason.textContent = reason;
      if (reason && state !== "loading") {
        this.button.title = (state === "disabled" ? t.disabledBecause : "") + reason;
      } else {
        this.button.removeAttribute("title");
      }
      let status = "";
      let tone = "";
      if (this.callStatus) {
        status = t.status[this.callStatus] || this.callStatus;
        const motive = this.callReason && (t.motives[this.callReason] || this.callReason);
        if (motive && (this.callStatus === "not_completed" || this.callStatus === "undeliverable")) {
          status += `: ${motive}`;
        }
        tone = ok.has(this.callStatus) ? "ok" : final.has(this.callStatus) ? "error" : "";
        if (this.failure === "inProgress") {
          status = `${t.inProgress}. ${status}`;
        } else if (this.failure === "expired") {
          status += `. ${t.expired}`;
        }
      }
      this.status.textContent = status;
      if (tone) {
        this.status.dataset.tone = tone;
      } else {
        delete this.status.dataset.tone;
      }
      const host = this.dataset;
      const before = `${host.state}|${host.reason}|${host.callStatus}|${host.callId}`;
      host.state = state;
      host.reason = state === "disabled" && this.decision ? this.decision.reason || "" : "";
      host.callStatus = this.callStatus || "";
      host.callId = this.callId || "";
      if (before !== `${host.state}|${host.reason}|${host.callStatus}|${host.callId}`) {
        this.dispatchEvent(new CustomEvent("ccb-change", {
          bubbles: true,
          composed: true,
          detail: { state, reason: host.reason, callStatus: host.callStatus, callId: host.callId },
        }));
      }
    }
  }

  customElements.define("call-connect-button", CallConnectButton);
})();
