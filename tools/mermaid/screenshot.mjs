// Screenshots of job summary pages (summary_page.py writes them): each chart, and the whole page.
//
//   node screenshot.mjs --page FILE.html [--page FILE2.html ...] [--out DIR] [--full FILE.png]
//                       [--width N] [--scale S]
//
// Each page is loaded in Debian's chromium (puppeteer-config.json, MERMAID_CHROMIUM overrides the
// path) until it sets `window.renderDone`. With --out, every drawn chart (`.chart svg`) is written
// to DIR/<page stem>-<n>.png, and the JSON report on stdout says, in that PNG's pixels, where the
// chart's plot area is and where each series is drawn (xychart lines and bars, gantt bars: one box
// a shape) with the colour the browser painted it. With --full, the first page is captured whole (--scale for a
// smaller or sharper picture). Pages are looked at one after the other in one browser.
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'
import puppeteer from 'puppeteer'

const here = path.dirname(url.fileURLToPath(import.meta.url))

function launchOptions () {
  const config = JSON.parse(fs.readFileSync(path.join(here, 'puppeteer-config.json'), 'utf8'))
  if (process.env.MERMAID_CHROMIUM) config.executablePath = process.env.MERMAID_CHROMIUM
  return { headless: true, ...config }
}

function parseArgs (argv) {
  const args = { pages: [], out: '', full: '', width: 1012, scale: 1 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--page') args.pages.push(argv[++i])
    else if (arg === '--out') args.out = argv[++i]
    else if (arg === '--full') args.full = argv[++i]
    else if (arg === '--width') args.width = Number(argv[++i])
    else if (arg === '--scale') args.scale = Number(argv[++i])
    else throw new Error(`unknown argument ${arg}`)
  }
  if (!args.pages.length) throw new Error('no --page')
  return args
}

// In the page: every chart's kind, its plot area and its series, in CSS pixels from the chart's
// top left corner (the element screenshot's pixels at scale 1).
function describeCharts () {
  const rel = (box, origin) => ({
    x: box.left - origin.left, y: box.top - origin.top, width: box.width, height: box.height
  })
  const union = (boxes) => {
    const left = Math.min(...boxes.map(b => b.left))
    const top = Math.min(...boxes.map(b => b.top))
    const right = Math.max(...boxes.map(b => b.right))
    const bottom = Math.max(...boxes.map(b => b.bottom))
    return { left, top, width: right - left, height: bottom - top }
  }
  return Array.from(document.querySelectorAll('.chart svg')).map((svg) => {
    const origin = svg.getBoundingClientRect()
    const kind = svg.getAttribute('aria-roledescription') || ''
    const series = []
    let plot = null
    if (kind === 'xychart') {
      const area = svg.querySelector('g.plot')
      for (const group of svg.querySelectorAll('g.plot > g')) {
        const isLine = /line-plot/.test(group.getAttribute('class') || '')
        const shapes = Array.from(group.querySelectorAll(isLine ? 'path' : 'rect'))
        if (!shapes.length) continue
        const style = getComputedStyle(shapes[0])
        series.push({
          kind: isLine ? 'line' : 'bar',
          name: group.getAttribute('class'),
          colour: isLine ? style.stroke : style.fill,
          boxes: shapes.map(s => rel(s.getBoundingClientRect(), origin))
        })
      }
      plot = area ? rel(area.getBoundingClientRect(), origin) : null
    } else if (kind === 'gantt') {
      const tasks = Array.from(svg.querySelectorAll('rect.task'))
      for (const task of tasks) {
        series.push({
          kind: 'task',
          name: task.getAttribute('id') || '',
          colour: getComputedStyle(task).fill,
          boxes: [rel(task.getBoundingClientRect(), origin)]
        })
      }
      plot = tasks.length ? rel(union(tasks.map(t => t.getBoundingClientRect())), origin) : null
    }
    return { kind, width: origin.width, height: origin.height, plot, series }
  })
}

async function shootPage (browser, args, file, first) {
  const page = await browser.newPage()
  try {
    await page.setViewport({ width: args.width, height: 900, deviceScaleFactor: first && args.full ? args.scale : 1 })
    await page.goto(url.pathToFileURL(path.resolve(file)).href)
    await page.waitForFunction('window.renderDone === true', { timeout: 60000 })
    const errors = await page.evaluate('window.renderErrors')
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    const charts = await page.evaluate(describeCharts)
    if (args.out) {
      fs.mkdirSync(args.out, { recursive: true })
      const elements = await page.$$('.chart svg')
      for (const [i, element] of elements.entries()) {
        const png = path.join(args.out, `${path.basename(file, '.html')}-${i + 1}.png`)
        await element.screenshot({ path: png })
        charts[i].png = png
      }
    }
    if (first && args.full) {
      const height = await page.evaluate(() => document.documentElement.scrollHeight)
      await page.screenshot({ path: args.full, clip: { x: 0, y: 0, width: args.width, height } })
    }
    return { page: file, errors, background, charts }
  } finally {
    await page.close()
  }
}

const args = parseArgs(process.argv.slice(2))
// mermaid logs through the page's console: keep stdout for the JSON report.
console.log = (...items) => process.stderr.write(items.join(' ') + '\n')
const browser = await puppeteer.launch(launchOptions())
try {
  const pages = []
  for (const [i, file] of args.pages.entries()) pages.push(await shootPage(browser, args, file, i === 0))
  process.stdout.write(JSON.stringify({ pages }) + '\n')
} finally {
  await browser.close()
}
