// Renders every Mermaid block of Markdown files with the real mermaid, at each version GitHub has
// used, and reports every block's result as JSON on stdout.
//
//   node render.mjs --out DIR [--versions 10.9,11.4,11.12] [--concurrency N] FILE.md...
//
// Each version is the mermaid bundle that its mermaid-cli release loads (mmdc-<version> in
// package.json, its mermaid pinned by `overrides`), run in mermaid-cli's own page in Debian's
// chromium. `mmdc -i FILE.md` stops at the first block that fails without saying which one, and
// opens a fresh page (parsing the 3 MB bundle again) for every block; this loads each version once
// per worker page and reports each block, so one run over many summaries names every failing chart
// in seconds. A block's SVG is written to DIR/<version>/<file stem>-<n>.svg.
//
//   node render.mjs --page FILE.html --shot FILE.png [--width N]
//
// Screenshots a whole page (a rendered summary with mermaid in it); it waits until the page sets
// `window.renderDone`.
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'
import { createRequire } from 'node:module'
import puppeteer from 'puppeteer'

const here = path.dirname(url.fileURLToPath(import.meta.url))
const VERSIONS = ['10.9', '11.4', '11.12']
// The pattern mmdc uses to find the blocks of a Markdown input.
const BLOCK = /^[^\S\n]*[`:]{3}(?:mermaid)([^\S\n]*\r?\n([\s\S]*?))[`:]{3}[^\S\n]*$/gm

function launchOptions () {
  const config = JSON.parse(fs.readFileSync(path.join(here, 'puppeteer-config.json'), 'utf8'))
  if (process.env.MERMAID_CHROMIUM) config.executablePath = process.env.MERMAID_CHROMIUM
  return { headless: true, ...config }
}

function parseArgs (argv) {
  const args = { versions: VERSIONS, concurrency: 2, files: [], out: '', page: '', shot: '', width: 1012 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--out') args.out = argv[++i]
    else if (arg === '--versions') args.versions = argv[++i].split(',')
    else if (arg === '--concurrency') args.concurrency = Number(argv[++i])
    else if (arg === '--page') args.page = argv[++i]
    else if (arg === '--shot') args.shot = argv[++i]
    else if (arg === '--width') args.width = Number(argv[++i])
    else args.files.push(arg)
  }
  return args
}

function mermaidBundle (version) {
  const cli = path.join(here, 'node_modules', `mmdc-${version}`)
  const entry = createRequire(path.join(cli, 'package.json')).resolve('mermaid')
  return { page: path.join(cli, 'dist', 'index.html'), bundle: path.join(path.dirname(entry), 'mermaid.js') }
}

async function renderOne (page, definition, id) {
  return page.evaluate(async (definition, id) => {
    const container = document.getElementById('container')
    try {
      const { svg } = await globalThis.mermaid.render(id, definition, container)
      container.innerHTML = svg
      // The SVG as XML (what mmdc writes), so the tests can read it with an XML parser.
      return { ok: true, svg: new XMLSerializer().serializeToString(container.getElementsByTagName('svg')[0]) }
    } catch (error) {
      return { ok: false, error: String(error && error.message ? error.message : error) }
    } finally {
      document.getElementById(id)?.remove()
      document.getElementById('d' + id)?.remove()
    }
  }, definition, id)
}

async function renderBlocks (args) {
  const blocks = []
  for (const file of args.files) {
    const text = fs.readFileSync(file, 'utf8')
    let n = 0
    for (const match of text.matchAll(BLOCK)) {
      blocks.push({ file, index: ++n, definition: match[2] })
    }
  }
  const results = []
  const browser = await puppeteer.launch(launchOptions())
  try {
    for (const version of args.versions) {
      const { page: html, bundle } = mermaidBundle(version)
      const folder = path.join(args.out, version)
      fs.mkdirSync(folder, { recursive: true })
      let next = 0
      let counter = 0
      const worker = async () => {
        const page = await browser.newPage()
        await page.goto(url.pathToFileURL(html).href)
        await page.addScriptTag({ path: bundle })
        await page.evaluate(() => globalThis.mermaid.initialize({ startOnLoad: false }))
        while (next < blocks.length) {
          const block = blocks[next++]
          const outcome = await renderOne(page, block.definition, `chart${++counter}`)
          const result = { version, file: block.file, index: block.index, ok: outcome.ok, error: '', svg: '' }
          if (outcome.ok) {
            result.svg = path.join(folder, `${path.basename(block.file, '.md')}-${block.index}.svg`)
            fs.writeFileSync(result.svg, outcome.svg)
          } else {
            result.error = outcome.error.split('\n').slice(0, 4).join('\n')
          }
          results.push(result)
        }
        await page.close()
      }
      await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, worker))
    }
  } finally {
    await browser.close()
  }
  return results
}

async function screenshot (args) {
  const browser = await puppeteer.launch(launchOptions())
  try {
    const page = await browser.newPage()
    await page.setViewport({ width: args.width, height: 800 })
    await page.goto(url.pathToFileURL(path.resolve(args.page)).href)
    await page.waitForFunction('window.renderDone === true', { timeout: 120000 })
    const errors = await page.evaluate('window.renderErrors || []')
    await page.screenshot({ path: args.shot, fullPage: true })
    return errors
  } finally {
    await browser.close()
  }
}

const args = parseArgs(process.argv.slice(2))
// mermaid logs through the page's console, which mermaid-cli forwards to stdout: keep stdout JSON.
console.log = (...items) => process.stderr.write(items.join(' ') + '\n')
if (args.page) {
  const errors = await screenshot(args)
  process.stdout.write(JSON.stringify({ errors }) + '\n')
} else {
  const results = await renderBlocks(args)
  process.stdout.write(JSON.stringify({ results }) + '\n')
}
