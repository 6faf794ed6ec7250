// The article's Node server: every request reads its file with fs.promises.readFile (libuv's
// thread pool does the reading, so the event loop stays free) and answers it with res.end.
// Used by benches/http.sh: node benches/http/node_server.js PORT ROOT
const http = require('http');
const fs = require('fs');
const path = require('path');

const port = Number(process.argv[2] || 8081);
const root = process.argv[3] || '.';

http.createServer(async (req, res) => {
  const file = path.join(root, decodeURIComponent(req.url.split('?')[0]));
  try {
    const data = await fs.promises.readFile(file);
    res.end(data);
  } catch (e) {
    res.statusCode = 404;
    res.end('not found\n');
  }
}).listen(port, '127.0.0.1');
