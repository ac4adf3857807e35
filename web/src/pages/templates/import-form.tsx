import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { tenant } from '../../api';
import { Link } from '../../router';
import { ErrorView } from '../../ui';

/** A picked file: its path inside the template (a folder's own name stripped) and its size. */
interface Picked {
  path: string;
  file: File;
}

/** `webkitdirectory` is not in React's DOM types; the attribute passes through as is. */
const FOLDER_PICKER = { webkitdirectory: '', directory: '' } as Record<string, string>;

function picked(list: FileList | null): { files: Picked[]; folder: string | null } {
  const files: Picked[] = [];
  let folder: string | null = null;
  for (const file of Array.from(list ?? [])) {
    const rel = file.webkitRelativePath;
    if (rel) {
      const [top, ...rest] = rel.split('/');
      folder ??= top ?? null;
      files.push({ path: rest.join('/'), file });
    } else files.push({ path: file.name, file });
  }
  return { files, folder };
}

/** POST /templates/import: a name and files read in the browser (`{path: text}`); config.yaml is generated when absent. */
export function TemplateImportForm() {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [files, setFiles] = useState<Picked[]>([]);
  const [readError, setReadError] = useState<string | null>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const importIt = useMutation({
    mutationFn: async () => {
      const body: Record<string, string> = {};
      for (const p of files) {
        const text = await p.file.text();
        if (text.includes('\u0000')) throw new Error(`${p.path} is not a text file: a template holds text files only`);
        body[p.path] = text;
      }
      return (await tenant.POST('/templates/import', { body: { name: name.trim(), files: body } })).data!;
    },
    onSuccess: async () => {
      setName('');
      setFiles([]);
      if (filesInput.current) filesInput.current.value = '';
      if (folderInput.current) folderInput.current.value = '';
      await qc.invalidateQueries({ queryKey: ['templates'] });
    },
  });
  const onPick = (e: ChangeEvent<HTMLInputElement>) => {
    const { files: chosen, folder } = picked(e.target.files);
    setReadError(chosen.length === 0 ? 'No file chosen.' : null);
    setFiles(chosen);
    if (folder && name.trim() === '') setName(folder);
    importIt.reset();
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (files.length > 0 && name.trim() !== '') importIt.mutate();
  };
  return (
    <form className="card form tpl-import" onSubmit={onSubmit} aria-labelledby="tpl-import-title">
      <h2 id="tpl-import-title">Import a template</h2>
      <p className="muted">Text files only (at most 200 files, 1 MiB each). Without a config.yaml one is generated from the name.</p>
      <label>
        Template name
        <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={255} />
      </label>
      <label>
        Files
        <input ref={filesInput} type="file" multiple onChange={onPick} />
      </label>
      <label>
        Or a folder
        <input ref={folderInput} type="file" multiple {...FOLDER_PICKER} onChange={onPick} />
      </label>
      {readError ? <p className="field-error">{readError}</p> : null}
      {files.length > 0 ? (
        <div>
          <p className="muted" id="tpl-picked-title">
            {files.length} file{files.length === 1 ? '' : 's'} to import:
          </p>
          <ul className="tpl-picked" aria-labelledby="tpl-picked-title">
            {files.map((p) => (
              <li key={p.path}>
                <code>{p.path}</code> <span className="muted">({p.file.size} B)</span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {importIt.isError ? <ErrorView error={importIt.error} title="Could not import the template" /> : null}
      {importIt.isSuccess ? (
        <p role="status">
          Imported <Link to={`/app/templates/${encodeURIComponent(importIt.data.id)}`}>{importIt.data.name}</Link> as <code>{importIt.data.id}</code>.
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={importIt.isPending || files.length === 0 || name.trim() === ''}>
        {importIt.isPending ? 'Importing…' : 'Import template'}
      </button>
    </form>
  );
}
