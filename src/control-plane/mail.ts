import type { Logger } from 'pino';
import type { ControlPlaneConfig } from './config.js';

/** One message the control plane sends a user. Each carries exactly one action link. */
export interface MailMessage {
  /** What the message is for; the log transport names it in its line. */
  kind: 'email-verification';
  /** The (lower-cased) recipient address. */
  to: string;
  /** The account the message is about. */
  userId: string;
  subject: string;
  /**
   * The action link. It carries a one-time credential: a transport delivers it to `to` and nowhere else — the log
   * transport's line is the one deliberate exception, because without a transport the log is the only way out.
   */
  link: string;
  /** When the link stops working. */
  expiresAt: Date;
}

/**
 * How mail leaves the control plane (MAIL_TRANSPORT). Only `log` exists today; an SMTP transport implements the
 * same interface and is chosen in `createMailer`, so no caller changes when one is added.
 */
export interface Mailer {
  readonly transport: ControlPlaneConfig['MAIL_TRANSPORT'];
  send(message: MailMessage): Promise<void>;
}

/**
 * No mail transport: each message becomes one structured warning line, clearly marked as unsent, holding the
 * recipient, the account and the link — never the message's other text, and no other credential. An operator
 * (or a developer on `npm start`) passes the link on. Logged at `warn` so the default log level keeps it.
 */
export class LogMailer implements Mailer {
  readonly transport = 'log' as const;
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log.child({ component: 'mailer' });
  }

  async send(message: MailMessage): Promise<void> {
    this.log.warn(
      {
        delivery: 'log',
        mail: message.kind,
        to: message.to,
        user_id: message.userId,
        subject: message.subject,
        link: message.link,
        expires_at: message.expiresAt.toISOString(),
      },
      `MAIL NOT SENT (MAIL_TRANSPORT=log): "${message.subject}" for ${message.to}; pass the link on to its owner`,
    );
  }
}

export function createMailer(config: ControlPlaneConfig, log: Logger): Mailer {
  switch (config.MAIL_TRANSPORT) {
    case 'log':
      return new LogMailer(log);
  }
}
