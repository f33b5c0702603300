/**
 * `fuzz`: the e2e tests' hostile client (`fuzzApi`, generated from the OpenAPI document: wrong types, missing and
 * extra fields, huge and deeply nested bodies, unicode, prototype-pollution keys, path traversal in ids, wrong
 * methods and content types, no or a wrong token) against a Tandem process with both connections and a synced
 * pipeline. Every answer is checked: no 5xx, every error problem+json, no stack trace, file path or secret.
 */
import { resolve } from 'node:path';
import { fuzzApi } from '@tandem/e2e/dist/src/fuzz';
import { seedPeople } from '../population';
import { info, must, zero, type Scenario } from '../report';
import { API_TOKEN, Systems } from '../system';
import { Tandem } from '../tandem';

export const fuzz: Scenario = {
  name: 'fuzz',
  async run(context) {
    const count = context.short ? 300 : 1000;
    const seed = context.seed + 300;
    const systems = await Systems.start();
    let tandem: Tandem | undefined;
    try {
      seedPeople(systems, 40);
      tandem = await Tandem.start(systems, systems.tandemEnv({ TANDEM_SYNC_INTERVAL: '60' }));
      await tandem.settle();
      const figures = await fuzzApi({
        baseUrl: tandem.url,
        token: API_TOKEN,
        count,
        seed,
        secrets: [systems.marketo.clientSecret, systems.dataverseStarted.clientSecret],
        serverPaths: [resolve(__dirname, '../../../..')],
      });
      const health = await tandem.api('GET', '/health');
      const alive = tandem.process.exit === undefined && health.status === 200;
      const crashes = tandem.process.log().filter((l) => l['level'] === 60).length;
      context.log(`fuzz seed ${seed}: ${JSON.stringify({ ...figures, findings: figures.findings.length })}`);
      return {
        setup: `${count} requests from the OpenAPI document, seed ${seed}, 4 at a time, against a synced pipeline`,
        figures: [
          must('requests', figures.requests, `≥ ${count}`, figures.requests >= count),
          zero('serverErrors', figures.serverErrors),
          zero('nonProblemErrors', figures.nonProblemErrors),
          zero('leaks', figures.leaks),
          zero('acceptedInvalid', figures.acceptedInvalid),
          zero('authBypasses', figures.authBypasses),
          must('aliveAfter', alive, 'true', alive),
          zero('fatalLogLines', crashes),
          info('seed', seed),
        ],
        detail: figures,
      };
    } finally {
      await tandem?.kill();
      await systems.close();
    }
  },
};
