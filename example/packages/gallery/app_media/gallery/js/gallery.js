// Served as /media/gallery/js/gallery.js, from @acme/gallery's app_media/gallery/js/
// A classic script: wrapped so its names stay out of the shared global scope.
(() => {
  const el = document.getElementById('gallery-status');
  if (!el) return;
  el.textContent = 'gallery.js ran';
  el.classList.add('ok');
})();
