// What ipywidgets' static embedder (embed-amd.js) needs from a page of this book.
//
// 1. Its fonts. The embedder's module is named "@jupyter-widgets/html-manager/dist/...",
//    and webpack resolves its font files relative to that name, so each page asked for
//    <page folder>/@jupyter-widgets/html-manager/dist/<font> (404). Map the name to the
//    folder the book serves the embedder from, next to this script.
// 2. MathJax 2's typesetting call. The embedder typesets widget labels with
//    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3.
//    Labels drawn before MathJax has started wait in a list; MathJax 3 replaces the
//    configuration object when it starts, so startup.ready puts the call back on the
//    real object and typesets what waited.
(function () {
  const here = document.currentScript.src.replace(/[^/]*$/, "");
  window.require.config({
    paths: { "@jupyter-widgets/html-manager/dist": here + "ipywidgets" },
  });

  const waiting = [];
  const typeset = (elements) =>
    window.MathJax.startup.promise.then(() => window.MathJax.typesetPromise(elements));
  const hub = {
    Queue: function (...jobs) {
      const elements = jobs.filter(Array.isArray).map((job) => job[2]).filter(Boolean);
      if (window.MathJax && window.MathJax.typesetPromise) typeset(elements);
      else waiting.push(...elements);
    },
  };
  const config = (window.MathJax = window.MathJax || {});
  config.Hub = hub;
  config.startup = config.startup || {};
  const ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) ready();
    else window.MathJax.startup.defaultReady();
    window.MathJax.Hub = hub;
    if (waiting.length) typeset(waiting.splice(0));
  };
})();
