// ${{ values.name }} - ${{ values.description }}
// A dependency-free HTTP server to start from. Replace the routes below with real ones.
const http = require('node:http');

const port = Number(process.env.PORT || 8080);
const serviceName = '${{ values.name }}';

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');

  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok' }));
    return;
  }

  if (req.method === 'GET' && url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: serviceName, message: 'Hello from Northwind' }));
    return;
  }

  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not_found' }));
});

server.listen(port, () => {
  console.log(serviceName + ' listening on port ' + port);
});

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
});
