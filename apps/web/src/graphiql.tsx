// The API explorer, bundled with the console so it works without internet (Apollo's landing page
// loads GraphiQL from a CDN). Served at GET /graphql in a browser outside production.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';

const fetcher = async (params: unknown, options?: { headers?: Record<string, string> }) => {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options?.headers ?? {}) },
    body: JSON.stringify(params),
  });
  return response.json();
};

const defaultQuery = `# CCX API explorer. Put your key in Headers below:
#   { "authorization": "Bearer <your API key>" }
# Public queries work without one, e.g.:
{
  market { totalCredits allocatedCredits utilization standardPricePerCredit }
  gpuTypes { name creditsPerGpuHour }
}
`;

createRoot(document.getElementById('graphiql')!).render(<GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} isHeadersEditorEnabled />);
