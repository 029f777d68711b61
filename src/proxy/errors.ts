/** A snapshot the proxy cannot apply; the message is what an xDS NACK's error_detail should say. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
