import { Server } from 'node:http';
import request from 'supertest';
import { eventually } from './eventually';

/**
 * Runs a template from the catalog as a signed-in user does from the Create page, and returns what its
 * task page shows: the log, line by line, and the line it ended with.
 */
export async function runTemplateTask(
  server: Server,
  templateRef: string,
  values: Record<string, unknown>,
): Promise<{ log: string; ending: string }> {
  const api = request(server);
  const auth = { Authorization: 'Bearer mock-user-token' };
  const created = await api
    .post('/api/scaffolder/v2/tasks')
    .set(auth)
    .send({ templateRef, values });
  if (created.status !== 201) {
    throw new Error(
      `The scaffolder did not start ${templateRef}: ${created.status} ${created.text}`,
    );
  }
  const messages = await eventually(async () => {
    const res = await api
      .get(`/api/scaffolder/v2/tasks/${created.body.id}/events`)
      .set(auth);
    const events = res.body as { type: string; body: { message: string } }[];
    return events.some(event => event.type === 'completion')
      ? events.map(event => event.body.message)
      : undefined;
  }, `the end of ${templateRef}'s task`);
  return { log: messages.join('\n'), ending: messages[messages.length - 1] };
}
