/** The part of serve-handler (CommonJS, no bundled types) that the --url tests use. */
declare module 'serve-handler' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  namespace serveHandler {
    interface Options {
      /** The folder served at "/". */
      public?: string;
      /** Follow a symbolic link when it is the requested path's last segment (default false: 404). */
      symlinks?: boolean;
      directoryListing?: boolean;
    }
  }

  function serveHandler(
    request: IncomingMessage,
    response: ServerResponse,
    options?: serveHandler.Options,
  ): Promise<void>;
  export = serveHandler;
}
