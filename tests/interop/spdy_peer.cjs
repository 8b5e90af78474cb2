// A SPDY/3.1 peer from the npm spdy package (an independent implementation
// of the framing and header compression), for spdy_interop_test.cc: plain
// SPDY on TCP, no TLS. It answers every request with 200, a header
// x-crisp: interop, and "got METHOD PATH BODY". It prints its port, then
// serves until stdin closes.
'use strict';
const spdy = require('spdy');

const server = spdy.createServer({ spdy: { plain: true, ssl: false, protocols: ['spdy/3.1'] } }, (req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    res.writeHead(200, { 'x-crisp': 'interop' });
    res.end(`got ${req.method} ${req.url} ${body}`);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
