/** Bulk API 2.0 ingest end to end: create a job, upload CSV once, close it, poll, read the three result files. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { startOrg, type ApiErrorBody, type Org } from './helpers';

interface JobInfo {
  id: string;
  state: string;
  object: string;
  operation: string;
  contentUrl?: string;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  errorMessage?: string;
}

describe('Bulk API 2.0 ingest', () => {
  let org: Org;
  before(async () => {
    org = await startOrg();
  });
  after(async () => {
    await org.close();
  });

  async function runJob(
    object: string,
    operation: string,
    csv: string,
    lineEnding: 'LF' | 'CRLF' = 'LF',
  ): Promise<JobInfo> {
    const created = await org.json<JobInfo>(`${org.base}/jobs/ingest`, {
      method: 'POST',
      json: {
        object,
        operation,
        contentType: 'CSV',
        lineEnding,
        ...(operation === 'upsert' ? { externalIdFieldName: 'Id' } : {}),
      },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.state, 'Open');
    assert.match(created.body.id, /^750/);
    assert.equal(
      created.body.contentUrl,
      `services/data/${org.running.env.SALESFORCE_API_VERSION}/jobs/ingest/${created.body.id}/batches`,
    );
    const upload = await org.call(`/${created.body.contentUrl}`, {
      method: 'PUT',
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(upload.status, 201);
    const closed = await org.json<JobInfo>(`${org.base}/jobs/ingest/${created.body.id}`, {
      method: 'PATCH',
      json: { state: 'UploadComplete' },
    });
    assert.equal(closed.status, 200);
    assert.equal(closed.body.state, 'UploadComplete');
    // Processing is asynchronous: poll as a client does (waiting on the sandbox keeps the test free of timing).
    await org.sandbox.bulk.idle();
    const polled = await org.json<JobInfo>(`${org.base}/jobs/ingest/${created.body.id}`);
    return polled.body;
  }
  const csvOf = async (path: string) => {
    const r = await org.call(path);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/csv/);
    return parse(await r.text(), { columns: true }) as Array<Record<string, string>>;
  };

  test('insert: successes with sf__Id/sf__Created, failures with sf__Error, each row with its columns', async () => {
    org.sandbox.addValidationRule({
      object: 'Lead',
      name: 'No_Spam',
      message: 'No spam companies',
      when: { field: 'Company', operator: 'equals', value: 'Spam Inc' },
    });
    const job = await runJob(
      'Lead',
      'insert',
      [
        'FirstName,LastName,Company,Email',
        'Ada,Lovelace,Analytical,ada@example.com',
        'Ben,,Baker Co,ben@example.com',
        'Cat,Cole,Spam Inc,cat@example.com',
        '"Dee, Jr",Doe,"Quotes ""R"" Us",dee@example.com',
      ].join('\n'),
    );
    assert.equal(job.state, 'JobComplete');
    assert.equal(job.numberRecordsProcessed, 4);
    assert.equal(job.numberRecordsFailed, 2);
    // "The order of records in the response is not guaranteed to match the ordering of records in the original job
    // data": a client pairs each result with its row by the row's own columns (here, last row first).
    const ok = await csvOf(`${org.base}/jobs/ingest/${job.id}/successfulResults/`);
    assert.deepEqual(
      ok.map((r) => [r.sf__Created, r.LastName, r.FirstName]),
      [
        ['true', 'Doe', 'Dee, Jr'],
        ['true', 'Lovelace', 'Ada'],
      ],
    );
    const byLastName = new Map(ok.map((r) => [r.LastName, r.sf__Id ?? '']));
    assert.match(byLastName.get('Lovelace') ?? '', /^00Q/);
    assert.equal(org.sandbox.getRecord('Lead', byLastName.get('Doe') ?? '')?.values.Company, 'Quotes "R" Us');
    assert.equal(
      org.sandbox.getRecord('Lead', byLastName.get('Lovelace') ?? '')?.values.Status,
      'Open - Not Contacted',
    );
    const failed = await csvOf(`${org.base}/jobs/ingest/${job.id}/failedResults/`);
    assert.deepEqual(
      failed.map((r) => [r.sf__Error, r.FirstName]),
      [
        ['FIELD_CUSTOM_VALIDATION_EXCEPTION:No spam companies: --', 'Cat'],
        ['REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --', 'Ben'],
      ],
    );
    const unprocessed = await org.call(`${org.base}/jobs/ingest/${job.id}/unprocessedrecords/`);
    assert.equal((await unprocessed.text()).trim(), '"FirstName","LastName","Company","Email"');
    org.sandbox.clearValidationRules();
  });

  test('update and delete by Id; empty cells leave fields alone, #N/A clears them', async () => {
    const a = org.sandbox.createRecord('Contact', { LastName: 'Upd', Title: 'Old', Email: 'upd@example.com' });
    const b = org.sandbox.createRecord('Contact', { LastName: 'Del' });
    const upd = await runJob('Contact', 'update', `Id,Title,Email\n${a.id},New,#N/A\n003000000000001AAA,x,\n`);
    assert.equal(upd.numberRecordsFailed, 1);
    assert.deepEqual(
      [org.sandbox.getRecord('Contact', a.id)?.values.Title, org.sandbox.getRecord('Contact', a.id)?.values.Email],
      ['New', null],
    );
    const failed = await csvOf(`${org.base}/jobs/ingest/${upd.id}/failedResults/`);
    assert.match(failed[0]?.sf__Error ?? '', /^INVALID_CROSS_REFERENCE_KEY:/);
    const keep = await runJob('Contact', 'update', `Id,Title\n${a.id},\n`);
    assert.equal(keep.numberRecordsFailed, 0);
    assert.equal(org.sandbox.getRecord('Contact', a.id)?.values.Title, 'New', 'an empty cell changes nothing');
    const del = await runJob('Contact', 'delete', `Id\n${b.id}\n`);
    assert.equal(del.numberRecordsFailed, 0);
    const gone = await org.query<{ IsDeleted: boolean }>(`SELECT IsDeleted FROM Contact WHERE Id = '${b.id}'`, true);
    assert.equal(gone.body.records[0]?.IsDeleted, true);
    const ok = await csvOf(`${org.base}/jobs/ingest/${del.id}/successfulResults/`);
    assert.deepEqual(
      ok.map((r) => [r.sf__Id, r.sf__Created]),
      [[b.id, 'false']],
    );
  });

  test("data whose line ending is not the job's fails the job (ClientInputError)", async () => {
    const crlfInLfJob = await runJob('Contact', 'insert', 'LastName\r\nEnding1\r\n');
    assert.equal(crlfInLfJob.state, 'Failed');
    assert.equal(
      crlfInLfJob.errorMessage,
      'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF',
    );
    const lfInCrlfJob = await runJob('Contact', 'insert', 'LastName\nEnding2\n', 'CRLF');
    assert.equal(lfInCrlfJob.state, 'Failed');
    assert.match(lfInCrlfJob.errorMessage ?? '', /Current LineEnding setting is CRLF/);
    const matching = await runJob('Contact', 'insert', 'LastName,Title\r\nEnding3,"Two\r\nlines"\r\n', 'CRLF');
    assert.deepEqual(
      [matching.state, matching.numberRecordsProcessed, matching.numberRecordsFailed],
      ['JobComplete', 1, 0],
    );
    assert.equal(
      org.sandbox.listRecords('Contact').find((r) => r.values.LastName === 'Ending3')?.values.Title,
      'Two\r\nlines',
    );
  });

  test('a header naming an unknown or hidden field fails the job', async () => {
    const unknown = await runJob('Contact', 'insert', 'LastName,Shoe__c\nX,1\n');
    assert.equal(unknown.state, 'Failed');
    assert.match(unknown.errorMessage ?? '', /Field name not found : Shoe__c/);
    org.sandbox.setFieldSecurity('Contact', 'Title', { read: false, edit: false });
    const hidden = await runJob('Contact', 'insert', 'LastName,Title\nX,CTO\n');
    assert.equal(hidden.state, 'Failed');
    org.sandbox.resetFieldSecurity();
  });

  test('lock errors reach bulk rows too', async () => {
    org.sandbox.injectFaults({ lockErrorsNext: 1 });
    const job = await runJob('Contact', 'insert', 'LastName\nLock1\nLock2\n');
    assert.equal(job.numberRecordsFailed, 1);
    const failed = await csvOf(`${org.base}/jobs/ingest/${job.id}/failedResults/`);
    assert.match(failed[0]?.sf__Error ?? '', /^UNABLE_TO_LOCK_ROW:/);
    org.sandbox.clearFaults();
  });

  test('job state rules: one upload per job, results only when finished, unknown jobs 404', async () => {
    const created = await org.json<JobInfo>(`${org.base}/jobs/ingest`, {
      method: 'POST',
      json: { object: 'Contact', operation: 'insert' },
    });
    const batches = `${org.base}/jobs/ingest/${created.body.id}/batches`;
    await org.call(batches, { method: 'PUT', body: 'LastName\nA\n', headers: { 'content-type': 'text/csv' } });
    await org.call(batches, { method: 'PUT', body: 'LastName\nB\n', headers: { 'content-type': 'text/csv' } });
    const early = await org.json<ApiErrorBody[]>(`${org.base}/jobs/ingest/${created.body.id}/successfulResults/`);
    assert.equal(early.body[0]?.errorCode, 'INVALIDJOBSTATE');
    const close = await org.json<ApiErrorBody[]>(`${org.base}/jobs/ingest/${created.body.id}`, {
      method: 'PATCH',
      json: { state: 'UploadComplete' },
    });
    assert.equal(close.status, 400);
    assert.equal(close.body[0]?.errorCode, 'INVALIDJOB');
    assert.match(close.body[0]?.message ?? '', /Found multiple contents for job/);
    const abort = await org.json<JobInfo>(`${org.base}/jobs/ingest/${created.body.id}`, {
      method: 'PATCH',
      json: { state: 'Aborted' },
    });
    assert.equal(abort.body.state, 'Aborted');
    const late = await org.call(batches, {
      method: 'PUT',
      body: 'LastName\nC\n',
      headers: { 'content-type': 'text/csv' },
    });
    assert.equal(late.status, 409);
    assert.equal((await org.call(`${org.base}/jobs/ingest/${created.body.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await org.json(`${org.base}/jobs/ingest/${created.body.id}`)).status, 404);
    const bad = await org.json<ApiErrorBody[]>(`${org.base}/jobs/ingest`, {
      method: 'POST',
      json: { object: 'Account', operation: 'insert' },
    });
    assert.equal(bad.status, 400);
  });
});
