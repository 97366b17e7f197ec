// On a phone, a figure shrinks to the screen only as far as its smallest text stays
// readable: the build writes that text's height in image pixels on the image
// (data-text-px, cnnbook/figure_text.py), and course.css gives the image this width as
// its minimum on narrow screens, where its box then scrolls sideways. 9.5 px keeps the
// browser test's 9 px floor (tests/browser.py) with room for rounding.
(function () {
  const READABLE_PX = 9.5;
  function fit(image) {
    const width = image.naturalWidth * Math.min(1, READABLE_PX / Number(image.dataset.textPx));
    image.style.setProperty("--readable-width", `${Math.ceil(width)}px`);
  }
  function watch() {
    for (const image of document.querySelectorAll("img[data-text-px]")) {
      image.addEventListener("load", () => fit(image));
      if (image.complete && image.naturalWidth) fit(image);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
