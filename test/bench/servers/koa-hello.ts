// A bare Koa app answering "hello": what the captcha GET (token + render) is compared with.
import http from 'node:http';
import Koa from 'koa';
import { serve } from './child.js';

const app = new Koa();
app.use((ctx) => {
  ctx.body = 'hello';
});

serve(http.createServer(app.callback()));
