"""The web app coaches use in a browser, served by the API server itself (same process and port).

pages.py answers every page path with one HTML shell in the reader's language and mounts the
assets; static/ holds them, plain ES modules and CSS written here (no build step, no CDN):
app.js picks the page module for the path, and each page builds its DOM from the /api/v1
answers with dom.js, which only ever sets text, never HTML.
"""
