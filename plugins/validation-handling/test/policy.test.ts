import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import type { Rejection } from '@tandem/core/plugin';
import {
  ValidationHandlingSettingsSchema,
  defaultSettings,
  defaultValidationHandlingSettings,
  validationHandlingPolicy,
} from '../src/index';

const rejection: Rejection = {
  pipelineId: 'p1',
  connection: 'dynamics',
  connector: 'dynamics',
  objectType: 'contact',
  recordId: '00000000-0000-0000-0000-000000000001',
  code: 'ValidationFailed',
  message: 'A phone number is required.',
};

describe('validation-handling policy object', () => {
  it('handles rejections and is enabled by default', () => {
    assert.equal(validationHandlingPolicy.decisionPoint, 'rejection');
    assert.equal(validationHandlingPolicy.defaultEnabled, true);
    assert.equal(validationHandlingPolicy.settingsSchema, ValidationHandlingSettingsSchema);
    assert.ok(validationHandlingPolicy.description.length > 0);
  });

  it('defaults to continue', () => {
    assert.deepEqual(validationHandlingPolicy.defaultSettings, { mode: 'continue' });
    assert.equal(validationHandlingPolicy.onRejected(rejection, defaultSettings), 'continue');
    const copy = defaultValidationHandlingSettings();
    assert.deepEqual(copy, defaultSettings);
    assert.notEqual(copy, defaultSettings);
  });
});

describe('onRejected', () => {
  it('continues in continue mode, whichever system rejected', () => {
    assert.equal(validationHandlingPolicy.onRejected(rejection, { mode: 'continue' }), 'continue');
    const marketo: Rejection = {
      pipelineId: 'p1',
      connection: 'marketo',
      connector: 'marketo',
      objectType: 'lead',
      code: '1003',
      message: 'x',
    };
    assert.equal(validationHandlingPolicy.onRejected(marketo, { mode: 'continue' }), 'continue');
  });

  it('halts in halt mode', () => {
    assert.equal(validationHandlingPolicy.onRejected(rejection, { mode: 'halt' }), 'halt');
  });
});

describe('settings schema', () => {
  const check = (value: unknown) => Value.Check(ValidationHandlingSettingsSchema, value);

  it('accepts both modes and the defaults', () => {
    assert.ok(check(defaultSettings));
    assert.ok(check({ mode: 'continue' }));
    assert.ok(check({ mode: 'halt' }));
  });

  it('rejects malformed settings', () => {
    assert.ok(!check({}));
    assert.ok(!check(null));
    assert.ok(!check({ mode: 'stop' }));
    assert.ok(!check({ mode: 'HALT' }));
    assert.ok(!check({ mode: true }));
    assert.ok(!check({ mode: 'halt', extra: 1 }));
  });

  it('describes itself for the OpenAPI document', () => {
    const schema = JSON.parse(JSON.stringify(ValidationHandlingSettingsSchema)) as Record<string, unknown>;
    assert.equal(schema['additionalProperties'], false);
    assert.equal(typeof schema['description'], 'string');
    const mode = (schema['properties'] as Record<string, Record<string, unknown>>)['mode'];
    assert.equal(typeof mode?.['description'], 'string');
  });
});
