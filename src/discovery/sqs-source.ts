import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueueMessage {
  readonly id: string;
  readonly receiptHandle: string;
  readonly body: string | undefined;
}

export interface SqsSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** Long-poll wait per receive. @default 20 s (the SQS maximum) */
  readonly waitSeconds?: number;
  /** How long a received message stays hidden; extended while its job runs. @default 120 s */
  readonly visibilitySeconds?: number;
}

/** The queue side of SQS discovery: receive (long poll), delete, and keep messages hidden while work runs. */
export class SqsSource {
  readonly visibilitySeconds: number;
  readonly #o: SqsSourceOptions;

  constructor(options: SqsSourceOptions) {
    this.#o = options;
    this.visibilitySeconds = options.visibilitySeconds ?? 120;
  }

  async receive(signal?: AbortSignal): Promise<QueueMessage[]> {
    const out = await this.#o.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#o.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: this.#o.waitSeconds ?? 20,
        VisibilityTimeout: this.visibilitySeconds,
      }),
      signal ? { abortSignal: signal } : {},
    );
    return (out.Messages ?? []).map((m) => ({ id: m.MessageId ?? '', receiptHandle: m.ReceiptHandle ?? '', body: m.Body }));
  }

  async delete(message: QueueMessage): Promise<void> {
    await this.#o.client.send(new DeleteMessageCommand({ QueueUrl: this.#o.queueUrl, ReceiptHandle: message.receiptHandle }));
  }

  /** Hides the messages for another visibility period (called while their jobs run). */
  async extendVisibility(messages: readonly QueueMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const batch = messages.slice(i, i + 10);
      await this.#o.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.#o.queueUrl,
          Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle, VisibilityTimeout: this.visibilitySeconds })),
        }),
      );
    }
  }
}
