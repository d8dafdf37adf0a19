/* Accessibility fixes the theme and the notebook renderer leave to the site (checked by axe-core in
   tests/test_site.py). Loaded with defer (mkdocs.yml), so it never holds up the first paint. Re-applied
   when the page changes, at most once a frame: Material adds annotation markers after load and swaps the
   content on instant navigation.
   - Material draws a code annotation's marker as a link whose only text is a number shown in print: a
     screen reader meets an unnamed link (axe: link-name). Each marker is named after its number.
   - A notebook code cell wider than the page scrolls sideways, but unlike Material's code blocks it cannot
     take the keyboard focus, so keyboard users cannot scroll it (axe: scrollable-region-focusable). */
(function () {
  var pending = false;
  function fix() {
    pending = false;
    document.querySelectorAll(".md-annotation__index:not([aria-label])").forEach(function (marker) {
      var number = marker.querySelector("[data-md-annotation-id]");
      marker.setAttribute("aria-label", "Annotation " + (number ? number.getAttribute("data-md-annotation-id") : ""));
    });
    document.querySelectorAll(".jupyter-wrapper .highlight-ipynb:not([tabindex])").forEach(function (cell) {
      if (cell.scrollWidth > cell.clientWidth) cell.setAttribute("tabindex", "0");
    });
  }
  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(fix);
    }
  }
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  window.addEventListener("resize", schedule);
  fix();
})();
