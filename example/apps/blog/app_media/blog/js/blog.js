// Served as /media/blog/js/blog.js, from apps/blog/app_media/blog/js/
// A classic script: wrapped so its names stay out of the shared global scope.
(() => {
  const el = document.getElementById('blog-status');
  if (!el) return;
  el.textContent = 'blog.js ran';
  el.classList.add('ok');
})();
