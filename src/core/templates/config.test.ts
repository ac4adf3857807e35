import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generatedConfigYaml, normalizeTemplateName, parseTemplateConfig, readTemplateDir, templateCommand, TemplateConfigError } from './config.js';

describe('template config.yaml', () => {
  it('reads the reference fields, model from runtime_config, env requirements and our command', () => {
    const c = parseTemplateConfig('name: A\ntier: 2\nruntime: hermes\nruntime_config:\n  model: m1\n  provision_timeout_seconds: 90\nskills: [x, y]\nenv:\n  required: [K]\ncommand: run it\n');
    assert.deepEqual([c.name, c.tier, c.runtime, c.model, c.skills, c.required_env, c.provision_timeout_seconds, c.command], ['A', 2, 'hermes', 'm1', ['x', 'y'], ['K'], 90, 'run it']);
    assert.equal(parseTemplateConfig('model: top\nruntime_config: {model: inner}\n').model, 'top');
    assert.equal(parseTemplateConfig('').command, undefined, 'an empty config is an empty mapping');
  });

  it('refuses what is not a mapping, duplicate keys, a non-string command and an alias bomb', () => {
    for (const bad of ['- a', 'just text', 'a: 1\na: 2\n', 'command: {x: 1}\n']) assert.throws(() => parseTemplateConfig(bad), TemplateConfigError, bad);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    assert.throws(() => parseTemplateConfig(bomb), TemplateConfigError);
  });

  it('generates the reference config for an import without one, and it parses', () => {
    const text = generatedConfigYaml('Quote "me"', ['b.md', 'a.md', 'skills/s1/SKILL.md', 'deep/x.md']);
    const c = parseTemplateConfig(text);
    assert.deepEqual([c.name, c.description, c.tier, c.model, c.prompt_files, c.skills, c.required_env], ['Quote "me"', 'Imported agent', 3, 'anthropic:claude-haiku-4-5-20251001', ['a.md', 'b.md'], ['s1'], ['ANTHROPIC_API_KEY']]);
    assert.deepEqual(parseTemplateConfig(generatedConfigYaml('n', [])).prompt_files, ['system-prompt.md']);
  });

  it('normalises names like the reference', () => {
    assert.equal(normalizeTemplateName('My Agent-2'), 'my-agent-2');
    assert.equal(normalizeTemplateName('../..'), 'unnamed');
    assert.equal(normalizeTemplateName(''), 'unnamed');
  });

  it('reads a directory without following symlinks, and migrates template.json', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'molecule-template-dir-'));
    try {
      mkdirSync(path.join(dir, 'legacy'));
      writeFileSync(path.join(dir, 'legacy', 'template.json'), JSON.stringify({ command: 'sleep 5' }));
      symlinkSync('/etc/hostname', path.join(dir, 'legacy', 'linked.txt'));
      const read = readTemplateDir(path.join(dir, 'legacy'), 'legacy');
      assert.deepEqual(Object.keys(read.files), ['config.yaml']);
      assert.equal(read.migrated, true);
      assert.equal(read.config.command, 'sleep 5');
      assert.equal(templateCommand(dir, 'legacy'), 'sleep 5', 'template.json still read by the CP fallback');
      writeFileSync(path.join(dir, 'legacy', 'config.yaml'), 'command: from yaml\n');
      assert.equal(templateCommand(dir, 'legacy'), 'from yaml', 'config.yaml wins');
      assert.equal(templateCommand(dir, 'missing'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
