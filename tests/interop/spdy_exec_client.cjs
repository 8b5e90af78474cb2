// An exec client from the npm spdy-transport package (an independent
// SPDY/3.1 implementation), for spdy_server_interop_test.cc: the HTTP/1.1
// upgrade as client-go makes it, then one stream per argument, each named
// by its streamtype header. With STDIN set, a stdin stream writes it and
// half-closes. Prints {"status": the 101 line, "channels": {type: text}}
// once every stream has ended (or 2 s after the server's FIN).
//   node spdy_exec_client.cjs URL TYPE...
'use strict';
const net = require('net');
const { Duplex } = require('stream');
const transport = require('spdy-transport');

const url = new URL(process.argv[2]);
const types = process.argv.slice(3);
const result = { status: '', channels: {} };
let printed = false;
function print() {
  if (printed) return;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n');
}

const socket = net.connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true }, () => {
  socket.write(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\n` +
               'Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
});
socket.on('close', print);
socket.on('error', (error) => { result.error = String(error); print(); });

let head = Buffer.alloc(0);
function onHead(chunk) {
  head = Buffer.concat([head, chunk]);
  const end = head.indexOf('\r\n\r\n');
  if (end < 0) return;
  socket.removeListener('data', onHead);
  socket.pause();
  result.status = head.subarray(0, head.indexOf('\r\n')).toString();
  const rest = head.subarray(end + 4);
  if (!result.status.startsWith('HTTP/1.1 101')) return socket.end();
  openStreams();
  if (rest.length > 0) socket.emit('data', rest);
}
socket.on('data', onHead);

function openStreams() {
  // spdy-transport parses asynchronously and drops every stream when its
  // socket closes, even with frames still to parse; it gets a duplex that
  // carries the bytes and never closes, and this script ends the session.
  const link = new Duplex({
    read() {},
    write(chunk, encoding, callback) { socket.write(chunk, callback); },
  });
  socket.on('data', (chunk) => link.push(chunk));
  const connection = transport.connection.create(link, { protocol: 'spdy', isServer: false });
  connection.start(3.1);
  connection.on('error', (error) => { result.error = String(error); });
  let open = types.length;
  const ended = () => {
    if (--open === 0) {
      print();
      socket.destroy();
    }
  };
  socket.on('end', () => setTimeout(() => { print(); socket.destroy(); }, 2000));
  for (const type of types) {
    result.channels[type] = '';
    const stream = connection.request({ method: 'POST', path: '/', host: url.host, headers: { streamtype: type } });
    stream.on('data', (data) => { result.channels[type] += data.toString(); });
    stream.on('end', ended);
    stream.on('error', () => {});
    if (type === 'stdin') stream.end(process.env.STDIN || '');
    else stream.resume();
  }
  socket.resume();
}
