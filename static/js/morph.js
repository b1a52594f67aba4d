// Refresh without loss. A fragment that comes back for an element marked data-morph
// (the charts, the results panel, a chart frame) is not swapped in: the page's element is
// changed in place to match it, so an open "Show as table" stays open, its scroll and the
// keyboard focus stay where they were, and nothing moves (no layout shift). A chart whose
// data island changed is redrawn in place (TSMetrics.charts.refresh: Chart.js `update`);
// nodes that have no counterpart are replaced and handed to htmx like a swap would.
// Anything else (an error page, another element) swaps as usual.
(function (TSMetrics) {
  "use strict";

  // State the browser or our scripts own, never taken from the server's copy.
  var KEPT = { open: true, "data-drawn": true, "aria-busy": true, style: true };

  function same(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName &&
      (a.nodeType !== 1 || a.id === b.id);
  }

  // A drawn chart answered by its lazy placeholder (a lift chart in the results panel).
  function placeholderOf(was, child) {
    return was.nodeType === 1 && child.nodeType === 1 && was.id && was.id === child.id &&
      was.dataset.drawn && child.hasAttribute("hx-get") && !child.hasAttribute("data-chart");
  }

  function syncAttributes(old, fresh) {
    Array.prototype.slice.call(old.attributes).forEach(function (a) {
      if (!KEPT[a.name] && !fresh.hasAttribute(a.name)) old.removeAttribute(a.name);
    });
    Array.prototype.forEach.call(fresh.attributes, function (a) {
      if (!KEPT[a.name] && old.getAttribute(a.name) !== a.value) old.setAttribute(a.name, a.value);
    });
  }

  function replaceChildren(old, fresh, work) {
    Array.prototype.slice.call(old.children).forEach(function (child) { htmx.remove(child); });
    old.replaceChildren();
    Array.prototype.slice.call(fresh.childNodes).forEach(function (child) {
      old.appendChild(child);
      if (child.nodeType === 1) work.inserted.push(child);
    });
  }

  // Makes `old` look like `fresh`, keeping every node whose place and kind did not change.
  function morph(old, fresh, work) {
    if (old.nodeType === 3 || old.nodeType === 8) {
      if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
      return;
    }
    if (old.tagName === "CANVAS") {
      // Chart.js owns the canvas's size; only its description comes from the server.
      old.setAttribute("aria-label", fresh.getAttribute("aria-label") || "");
      return;
    }
    syncAttributes(old, fresh);
    // The "Show as table" holder is filled by charts.js, which refills it on update.
    if (old.hasAttribute("data-chart-table")) return;
    if (old.tagName === "SCRIPT") {
      if (old.textContent !== fresh.textContent) {
        old.textContent = fresh.textContent;
        work.islands.push(old);
      }
      return;
    }
    var olds = old.childNodes, freshes = fresh.childNodes;
    var alike = olds.length === freshes.length;
    for (var i = 0; alike && i < olds.length; i++) alike = same(olds[i], freshes[i]) || placeholderOf(olds[i], freshes[i]);
    if (!alike) return replaceChildren(old, fresh, work);
    Array.prototype.slice.call(freshes).forEach(function (child, k) {
      var was = olds[k];
      // Keep the drawn chart and ask for its new data; it is morphed when that comes.
      if (placeholderOf(was, child)) work.later.push([was, child.getAttribute("hx-get")]);
      else morph(was, child, work);
    });
  }

  function morphable(target, status) {
    return status === 200 && target && target.hasAttribute("data-morph") &&
      !target.hasAttribute("data-pending");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!event.detail.shouldSwap || !morphable(target, event.detail.xhr.status)) return;
    var doc = new DOMParser().parseFromString(event.detail.serverResponse, "text/html");
    var fresh = doc.body.firstElementChild;
    if (!fresh || doc.body.children.length !== 1 || fresh.id !== target.id || fresh.tagName !== target.tagName) return;
    TSMetrics.localizeTimes(fresh);
    var work = { islands: [], inserted: [], later: [] };
    morph(target, fresh, work);
    // htmx swaps nothing but still moves the history, as for a swap.
    event.detail.swapOverride = "none";
    htmx.process(target);
    TSMetrics.charts.refresh(target, work.islands);
    work.inserted.forEach(function (node) { htmx.trigger(node, "htmx:load", { elt: node }); });
    work.later.forEach(function (pair) {
      htmx.ajax("GET", pair[1], { source: pair[0], target: pair[0], swap: "outerHTML" });
    });
    htmx.trigger(target, "tsm:morphed", { elt: target });
  });
})(window.TSMetrics);
